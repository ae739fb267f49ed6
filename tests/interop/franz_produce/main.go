// A vendor-side producer built with franz-go at that client's default settings: it compresses
// its produce batches with snappy, as the Go vendor in the report did. The processors' tests
// feed it "<key>\t<value>" lines on stdin and read one "<partition> <offset>" line per record.
//
//	go run . -brokers 127.0.0.1:9092 -topic intentcast.offers.submitted < records.tsv
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap address")
	topic := flag.String("topic", "", "topic to produce to")
	flag.Parse()
	if *topic == "" {
		fmt.Fprintln(os.Stderr, "-topic is required")
		os.Exit(2)
	}

	var records []*kgo.Record
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		key, value, found := bytes.Cut(lines.Bytes(), []byte("\t"))
		if !found {
			fmt.Fprintln(os.Stderr, "a line needs <key>\\t<value>")
			os.Exit(2)
		}
		records = append(records, &kgo.Record{
			Topic: *topic, Key: bytes.Clone(key), Value: bytes.Clone(value),
		})
	}
	if err := lines.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	// No producer options: the defaults (snappy batches, acks=all, idempotent) are the point.
	client, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	results := client.ProduceSync(ctx, records...)
	if err := results.FirstErr(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, r := range results {
		fmt.Printf("%d %d\n", r.Record.Partition, r.Record.Offset)
	}
}
