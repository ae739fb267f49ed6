// Command canonical is the Intentcast canonical encoding in Go, standard library only, written
// from docs/protocol.md ("Canonical encoding in other languages") and checked against the
// published test vectors. It shows the way around each trap of encoding/json: U+2028/U+2029
// and HTML characters escaped, numbers read as float64, duplicate keys kept (last wins),
// invalid UTF-8 and lone surrogates turned into U+FFFD, and the newline Encoder.Encode adds.
//
//	go run ./interop/go vectors schemas/vectors/vectors.json
//	go run ./interop/go negative schemas/vectors/negative.json
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ---- strict parsing -------------------------------------------------------------------------

var errMalformed = errors.New("malformed_json")

// Parse reads one JSON value the way the contract wants: UTF-8 only, numbers kept as their
// text (json.Number), no duplicate keys, no lone surrogates, nothing after the value.
func Parse(data []byte) (any, error) {
	if !utf8.Valid(data) { // encoding/json would silently turn bad bytes into U+FFFD
		return nil, fmt.Errorf("%w: not UTF-8", errMalformed)
	}
	if err := checkSurrogates(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // float64 would change integers above 2**53
	v, err := parseValue(dec)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: text after the value", errMalformed)
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			obj := map[string]any{}
			for dec.More() {
				keyTok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := keyTok.(string)
				if _, dup := obj[key]; dup { // Unmarshal would keep the last one
					return nil, fmt.Errorf("duplicate key %q", key)
				}
				if obj[key], err = parseValue(dec); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token() // '}'
			return obj, err
		}
		list := []any{}
		for dec.More() {
			item, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, item)
		}
		_, err := dec.Token() // ']'
		return list, err
	default:
		return t, nil // string, json.Number, bool or nil
	}
}

// checkSurrogates refuses a \uD800-\uDFFF escape that is not half of a pair (encoding/json
// reads it as U+FFFD without an error).
func checkSurrogates(data []byte) error {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		if c == '"' {
			inString = false
		} else if c == '\\' && i+1 < len(data) {
			if data[i+1] != 'u' || i+5 >= len(data) {
				i++
				continue
			}
			code, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
			if err != nil {
				return fmt.Errorf("%w: bad \\u escape", errMalformed)
			}
			switch {
			case code >= 0xD800 && code <= 0xDBFF:
				next := data[i+6:]
				low := len(next) >= 6 && next[0] == '\\' && next[1] == 'u'
				if low {
					l, err := strconv.ParseUint(string(next[2:6]), 16, 16)
					low = err == nil && l >= 0xDC00 && l <= 0xDFFF
				}
				if !low {
					return fmt.Errorf("%w: lone surrogate", errMalformed)
				}
				i += 11
			case code >= 0xDC00 && code <= 0xDFFF:
				return fmt.Errorf("%w: lone surrogate", errMalformed)
			default:
				i += 5
			}
		}
	}
	return nil
}

// ---- canonical writing ----------------------------------------------------------------------

var (
	moneyFields = map[string]bool{"price": true, "max_price": true}
	timeFields  = map[string]bool{"valid_until": true, "needed_by": true, "retention_end": true, "at": true, "consent_timestamp": true} // and *_at
	floatMaps   = map[string]bool{"gauges": true, "latencies_ms": true}                                                                 // metrics values
	moneyInput  = regexp.MustCompile(`^([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]{1,4}))?$`)
	timeInput   = regexp.MustCompile(
		`^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$`)
)

// Canonical writes v in canonical form; json.Marshal is not used for strings or objects.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	err := write(&buf, v, "", false)
	return buf.Bytes(), err
}

func write(buf *bytes.Buffer, v any, key string, inFloats bool) error {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k, item := range t {
			if item != nil { // nulls are omitted
				keys = append(keys, k)
			}
		}
		sort.Strings(keys) // bytewise, which for UTF-8 is code point order
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := write(buf, t[k], k, inFloats || floatMaps[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, item := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := write(buf, item, "", inFloats); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string:
		s, err := normaliseLeaf(t, key)
		if err != nil {
			return err
		}
		writeString(buf, s)
	case json.Number:
		s, err := number(t, inFloats)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	default:
		return fmt.Errorf("cannot write %T", v)
	}
	return nil
}

// writeString escapes only what JSON requires: no \u2028, no \u003c, raw UTF-8 otherwise.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			buf.WriteByte('\\')
			buf.WriteRune(r)
		case r < 0x20:
			short := map[rune]string{'\b': `\b`, '\t': `\t`, '\n': `\n`, '\f': `\f`, '\r': `\r`}
			if e, ok := short[r]; ok {
				buf.WriteString(e)
			} else {
				fmt.Fprintf(buf, `\u%04x`, r)
			}
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
}

// number: an integer field keeps its digits exactly; a float field is a double written as
// ECMAScript writes it, which is what json.Marshal(float64) does.
func number(n json.Number, inFloats bool) (string, error) {
	text := n.String()
	if !inFloats {
		i, ok := new(big.Int).SetString(text, 10)
		if !ok {
			return "", fmt.Errorf("not an integer: %s", text)
		}
		return i.String(), nil // "-0" -> "0"
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return "", err
	}
	if f == 0 {
		f = 0 // json.Marshal writes -0 for negative zero; ECMAScript writes 0
	}
	out, err := json.Marshal(f)
	return string(out), err
}

func normaliseLeaf(s, key string) (string, error) {
	if moneyFields[key] {
		return CanonicalMoney(s)
	}
	if timeFields[key] || strings.HasSuffix(key, "_at") {
		return CanonicalTime(s)
	}
	return s, nil
}

// CanonicalMoney: "450.00" -> "450", "4.5E+2" -> "450", "0.50" -> "0.5".
func CanonicalMoney(s string) (string, error) {
	m := moneyInput.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("not a decimal: %q", s)
	}
	exp := 0
	if m[3] != "" {
		exp, _ = strconv.Atoi(m[3])
	}
	digits := strings.TrimLeft(m[1]+m[2], "0")
	point := len(m[1]) + exp - (len(m[1]+m[2]) - len(digits))
	if digits == "" {
		return "0", nil
	}
	var whole, frac string
	switch {
	case point <= 0:
		whole, frac = "0", strings.Repeat("0", -point)+digits
	case point >= len(digits):
		whole = digits + strings.Repeat("0", point-len(digits))
	default:
		whole, frac = digits[:point], digits[point:]
	}
	if frac = strings.TrimRight(frac, "0"); frac != "" {
		return whole + "." + frac, nil
	}
	return whole, nil
}

// CanonicalTime: any RFC 3339 date-time -> UTC, truncated to milliseconds, ".000Z".
func CanonicalTime(s string) (string, error) {
	m := timeInput.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("not an RFC 3339 timestamp: %q", s)
	}
	frac := (m[3] + "000")[:3] // truncate, never round
	zone := strings.ToUpper(m[4])
	t, err := time.Parse("2006-01-02T15:04:05.000Z07:00", m[1]+"T"+m[2]+"."+frac+zone)
	if err != nil {
		return "", err
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
}

// WithDefaults fills in the fields a producer may leave out ("defaults" in the vectors).
func WithDefaults(msg map[string]any, defaults map[string]any) {
	for path, value := range defaults {
		fill(msg, strings.Split(path, "."), value)
	}
}

func fill(node any, parts []string, value any) {
	obj, ok := node.(map[string]any)
	if !ok {
		return
	}
	head, list := strings.CutSuffix(parts[0], "[]")
	if len(parts) == 1 {
		if _, present := obj[head]; !present {
			obj[head] = value
		}
		return
	}
	child, present := obj[head]
	if !present {
		return
	}
	if items, ok := child.([]any); ok && list {
		for _, item := range items {
			fill(item, parts[1:], value)
		}
		return
	}
	fill(child, parts[1:], value)
}

// ---- checking the vectors -------------------------------------------------------------------

type report struct {
	OK       bool                `json:"ok"`
	Checked  int                 `json:"checked"`
	Failures []map[string]string `json:"failures"`
}

func (r *report) expect(what, got, want string) {
	r.Checked++
	if got != want {
		r.Failures = append(r.Failures, map[string]string{"what": what, "got": got, "want": want})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func load(path string) map[string]any {
	return must(Parse(must(os.ReadFile(path)))).(map[string]any)
}

func checkVectors(path string) report {
	v := load(path)
	r := report{Failures: []map[string]string{}}
	for _, item := range v["timestamps"].([]any) {
		c := item.(map[string]any)
		r.expect("timestamp", must(CanonicalTime(c["input"].(string))), c["canonical"].(string))
	}
	for _, item := range v["money"].([]any) {
		c := item.(map[string]any)
		r.expect("money", must(CanonicalMoney(c["input"].(string))), c["canonical"].(string))
	}
	numbers := v["numbers"].(map[string]any)
	for field, floats := range map[string]bool{"integer": false, "float": true} {
		for _, item := range numbers[field].([]any) {
			c := item.(map[string]any)
			got := must(number(json.Number(c["input"].(string)), floats))
			r.expect(field+" "+c["input"].(string), got, c["canonical"].(string))
		}
	}
	for _, item := range v["strings"].([]any) {
		c := item.(map[string]any)
		got := string(must(Canonical(must(Parse([]byte(c["input"].(string)))))))
		r.expect("string "+c["input"].(string), got, c["canonical"].(string))
	}
	defaults := v["defaults"].(map[string]any)
	for _, item := range v["messages"].([]any) {
		c := item.(map[string]any)
		name, kind := c["name"].(string), c["kind"].(string)
		msg := c["input"].(map[string]any)
		WithDefaults(msg, defaults[kind].(map[string]any))
		if seedHex, signed := c["signer_seed_hex"].(string); signed {
			delete(msg, "signature") // the signing bytes are the canonical form without it
			signing := must(Canonical(msg))
			r.expect(name+" signing bytes", string(signing), c["signing_bytes"].(string))
			key := ed25519.NewKeyFromSeed(must(hex.DecodeString(seedHex)))
			public := base64.RawURLEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
			r.expect(name+" public key", public, c["public_key"].(string))
			msg["signature"] = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, signing))
			r.expect(name+" signature", msg["signature"].(string), c["signature"].(string))
		}
		canonical := must(Canonical(msg))
		r.expect(name+" canonical", string(canonical), c["canonical"].(string))
		sum := sha256.Sum256(canonical)
		r.expect(name+" sha256", hex.EncodeToString(sum[:]), c["sha256"].(string))
	}
	part := v["partitioning"].(map[string]any)
	partitions := must(part["partitions"].(json.Number).Int64())
	for _, item := range part["cases"].([]any) {
		c := item.(map[string]any)
		key := []byte(c["key"].(string)) // the id's UTF-8 text is the record key
		r.expect("key bytes "+c["key"].(string), hex.EncodeToString(key), c["key_hex"].(string))
		r.expect("murmur2 "+c["key"].(string), strconv.Itoa(int(Murmur2(key))),
			c["murmur2"].(json.Number).String())
		got := strconv.Itoa(int(Murmur2(key)&0x7fffffff) % int(partitions))
		r.expect("partition "+c["key"].(string), got, c["partition"].(json.Number).String())
	}
	receipt := v["receipt"].(map[string]any)
	sum := sha256.Sum256([]byte(receipt["signing_key"].(string))) // the text, not the key bytes
	r.expect("receipt principal", "intent:"+hex.EncodeToString(sum[:])[:16],
		receipt["pii_principal_id"].(string))
	r.OK = len(r.Failures) == 0
	return r
}

// Murmur2 is Kafka's Utils.murmur2 (the Java client's default partitioner). Sarama's default
// HashPartitioner is FNV-1a and librdkafka's is CRC32: neither puts an offer on its intent's
// partition.
func Murmur2(data []byte) int32 {
	const m = 0x5bd1e995
	h := uint32(0x9747b28c) ^ uint32(len(data))
	whole := len(data) - len(data)%4
	for i := 0; i < whole; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> 24
		k *= m
		h = h*m ^ k
	}
	switch len(data) % 4 {
	case 3:
		h ^= uint32(data[whole+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[whole+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[whole])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// checkNegative: every case the parser alone must refuse (malformed_json, message_too_large).
func checkNegative(path string) report {
	v := load(path)
	r := report{Failures: []map[string]string{}}
	for _, item := range v["cases"].([]any) {
		c := item.(map[string]any)
		reason := c["reason"].(string)
		if reason != "malformed_json" && reason != "message_too_large" {
			continue // the rest needs the schema: a full decoder, not this encoder
		}
		var raw []byte
		if h, ok := c["hex"].(string); ok {
			raw = must(hex.DecodeString(h))
		} else {
			raw = []byte(c["text"].(string))
		}
		if pad, ok := c["pad_with_spaces_to"].(json.Number); ok {
			size := int(must(pad.Int64()))
			raw = append(raw, bytes.Repeat([]byte(" "), size-len(raw))...)
		}
		got := "accepted"
		if len(raw) > 64*1024 {
			got = "message_too_large" // checked before parsing
		} else if _, err := Parse(raw); errors.Is(err, errMalformed) {
			got = "malformed_json"
		}
		r.expect(c["name"].(string), got, reason)
	}
	r.OK = len(r.Failures) == 0
	return r
}

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "vectors" && os.Args[1] != "negative") {
		fmt.Fprintln(os.Stderr, "usage: canonical vectors|negative <file>")
		os.Exit(2)
	}
	check := checkVectors
	if os.Args[1] == "negative" {
		check = checkNegative
	}
	r := check(os.Args[2])
	out := must(json.Marshal(r))
	os.Stdout.Write(append(out, '\n'))
	if !r.OK {
		os.Exit(1)
	}
}
