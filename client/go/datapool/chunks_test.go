package datapool

// How requests are cut into messages: image files into chunks that add up
// to each file again, embeddings into blocks of whole rows.

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	pb "datapool/client/go/datapoolv1"
)

func TestImageGroupsReassemble(t *testing.T) {
	dir := t.TempDir()
	sizes := map[string]int{"empty.png": 0, "big.png": 2500, "small.jpg": 700}
	var images []LocalImage
	for _, name := range []string{"empty.png", "big.png", "small.jpg"} {
		data := bytes.Repeat([]byte{byte(len(name))}, sizes[name])
		for i := range data {
			data[i] += byte(i)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		images = append(images, LocalImage{Filename: "x/" + name, Path: path, Label: int64(len(name))})
	}
	const chunkBytes = 1024
	var groups [][]*pb.ImageChunk
	if err := eachImageGroup(images, chunkBytes, func(g []*pb.ImageChunk) error {
		groups = append(groups, g)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	current := ""
	for _, g := range groups {
		data := 0
		for _, c := range g {
			data += len(c.Data)
			if c.Filename != "" {
				if current != "" {
					t.Fatalf("%s starts before %s ended", c.Filename, current)
				}
				current = c.Filename
				if c.Label != int64(len(c.Filename)-2) {
					t.Fatalf("%s has label %d", c.Filename, c.Label)
				}
				got[current] = []byte{}
			} else if current == "" {
				t.Fatal("a chunk without a filename after the last image ended")
			}
			got[current] = append(got[current], c.Data...)
			if c.Last {
				current = ""
			}
		}
		if data > chunkBytes {
			t.Fatalf("a message of %d bytes of images, more than %d", data, chunkBytes)
		}
	}
	if current != "" || len(got) != 3 {
		t.Fatalf("images %d, unfinished %q", len(got), current)
	}
	for _, image := range images {
		want, _ := os.ReadFile(image.Path)
		if !bytes.Equal(got[image.Filename], want) {
			t.Fatalf("%s: %d bytes sent, the file has %d", image.Filename,
				len(got[image.Filename]), len(want))
		}
	}
	if len(groups) < 3 {
		t.Fatalf("%d messages for 3200 bytes in 1024-byte messages", len(groups))
	}

	// No images: one message all the same (it carries the parameters).
	calls := 0
	if err := eachImageGroup(nil, chunkBytes, func(g []*pb.ImageChunk) error {
		calls++
		if len(g) != 0 {
			t.Fatalf("%d chunks of no images", len(g))
		}
		return nil
	}); err != nil || calls != 1 {
		t.Fatalf("no images: %d messages, %v", calls, err)
	}
}

func TestEmbeddingBlocksKeepRows(t *testing.T) {
	e := &Embeddings{Labels: []int64{}}
	for i := 0; i < 10; i++ {
		e.Filenames = append(e.Filenames, string(rune('a'+i)))
		e.Rows = append(e.Rows, []float32{float32(i), float32(-i), 1})
		e.Labels = append(e.Labels, int64(i))
	}
	// 3 floats + 64 bytes a row: 3 rows per 250 bytes.
	var blocks []*pb.EmbeddingBlock
	if err := e.eachBlock(250, func(b *pb.EmbeddingBlock) error {
		blocks = append(blocks, b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 4 {
		t.Fatalf("%d blocks, want 4 (3+3+3+1 rows)", len(blocks))
	}
	row := 0
	for _, b := range blocks {
		if b.Dimension != 3 || len(b.Values) != 3*len(b.Filenames) || len(b.Labels) != len(b.Filenames) {
			t.Fatalf("block %v", b)
		}
		for i, name := range b.Filenames {
			if name != e.Filenames[row] || b.Values[3*i] != float32(row) || b.Labels[i] != int64(row) {
				t.Fatalf("row %d comes as %s %v", row, name, b.Values[3*i:3*i+3])
			}
			row++
		}
	}
	if row != 10 {
		t.Fatalf("%d rows sent of 10", row)
	}
	if _, err := (&Embeddings{Filenames: []string{"a", "b"},
		Rows: [][]float32{{1, 2}, {3}}}).check("rows", false); err == nil {
		t.Fatal("rows of different lengths were accepted")
	}
}
