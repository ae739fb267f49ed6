module intentcast.example/interop

go 1.21
