// Writes fixtures.json: header blocks as Go's HPACK encoder
// (golang.org/x/net/http2/hpack, an implementation independent of ours) writes
// them, each sequence on one encoder, so later blocks refer to entries earlier
// ones added and evicted. Run in a module that requires golang.org/x/net v0.27.0
// (go mod init fixtures && go get golang.org/x/net@v0.27.0), then
// go run make-fixtures.go > fixtures.json
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/net/http2/hpack"
)

type block struct {
	Hex    string      `json:"hex"`
	Fields [][2]string `json:"fields"`
}

type sequence struct {
	Name      string  `json:"name"`
	TableSize uint32  `json:"tableSize"`
	Blocks    []block `json:"blocks"`
}

type step struct {
	maxTable uint32 // 0: unchanged
	fields   []hpack.HeaderField
}

// latin1 spells each byte as the character of that code, as the client reads header bytes,
// so a JSON string holds any byte.
func latin1(s string) string {
	runes := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		runes[i] = rune(s[i])
	}
	return string(runes)
}

func f(name, value string) hpack.HeaderField { return hpack.HeaderField{Name: name, Value: value} }

func run(name string, steps []step) sequence {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	seq := sequence{Name: name, TableSize: 4096}
	for _, s := range steps {
		buf.Reset()
		if s.maxTable != 0 {
			enc.SetMaxDynamicTableSize(s.maxTable)
		}
		b := block{Fields: [][2]string{}}
		for _, field := range s.fields {
			if err := enc.WriteField(field); err != nil {
				panic(err)
			}
			b.Fields = append(b.Fields, [2]string{latin1(field.Name), latin1(field.Value)})
		}
		b.Hex = hex.EncodeToString(buf.Bytes())
		seq.Blocks = append(seq.Blocks, b)
	}
	return seq
}

func main() {
	every := make([]byte, 0, 256)
	for i := 0; i < 256; i++ {
		every = append(every, byte(i))
	}
	printable := ""
	for c := 0x20; c < 0x7f; c++ {
		printable += string(rune(c))
	}
	response := []hpack.HeaderField{
		f(":status", "200"), f("server", "nginx/1.22.1"), f("date", "Fri, 04 Dec 2026 07:55:00 GMT"),
		f("content-type", "text/plain"), f("content-length", "17"), f("x-request-id", "3f1c2a9e-77b4-4d2e-9a0b-5c6d7e8f9a0b"),
		f("set-cookie", "a=1; Path=/"), f("set-cookie", "b=2; Path=/; HttpOnly"),
	}
	second := append([]hpack.HeaderField{}, response...)
	second[2] = f("date", "Fri, 04 Dec 2026 07:55:01 GMT")
	long := strings.Repeat("x", 3000)
	sensitive := hpack.HeaderField{Name: "authorization", Value: "Bearer secret", Sensitive: true}
	out := []sequence{
		run("responses that repeat: the second mostly indexed", []step{{fields: response}, {fields: second}, {fields: second}}),
		run("every printable character, Huffman-coded", []step{{fields: []hpack.HeaderField{f("x-printable", printable), f("x-"+strings.ToLower(strings.ReplaceAll(printable[16:26], " ", "")), "v")}}}),
		run("every byte value, raw where Huffman is longer", []step{{fields: []hpack.HeaderField{f("x-bytes", string(every[1:])), f("x-high", string(every[128:]))}}}),
		run("large entries evict older ones", []step{
			{fields: []hpack.HeaderField{f("x-a", strings.Repeat("a", 1500)), f("x-b", strings.Repeat("b", 1500))}},
			{fields: []hpack.HeaderField{f("x-c", strings.Repeat("c", 1500)), f("x-a", strings.Repeat("a", 1500)), f("x-b", strings.Repeat("b", 1500))}},
			{fields: []hpack.HeaderField{f("x-long", long), f("x-c", strings.Repeat("c", 1500))}},
		}),
		run("the table shrinks and grows again with size updates", []step{
			{fields: response},
			{maxTable: 256, fields: second},
			{maxTable: 0, fields: second},
			{maxTable: 4096, fields: response},
		}),
		run("never-indexed and empty values", []step{{fields: []hpack.HeaderField{sensitive, f("x-empty", "")}}, {fields: []hpack.HeaderField{sensitive, f("x-empty", "")}}}),
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
