package datapool

import (
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pb "datapool/client/go/datapoolv1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ImageExtensions are the file name endings (in any letter case) of the
// images that Uploads takes from a folder.
var ImageExtensions = []string{".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

// IsImageFilename says whether name ends in one of ImageExtensions.
func IsImageFilename(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

// LocalImage is an image file to upload.
type LocalImage struct {
	Filename string // the sample's name on the server
	Path     string // where to read it here
	Label    int64  // its weak label
}

// ListLocalImages lists the images that uploading paths sends, with the
// names and weak labels of the CLI's --upload and the Python SDK: a file
// is sent under its base name (label 0) and must have an image extension;
// a folder is walked recursively (links followed) and its images are sent
// in sorted order as "<folder name>/<path inside>", labelled with the
// index of their first-level subfolder (sorted; 0 for files directly in
// the folder). Errors: NOT_FOUND for a path that does not exist,
// INVALID_ARGUMENT for a file that is not an image or a folder that
// cannot be listed.
func ListLocalImages(paths []string) ([]LocalImage, error) {
	var out []LocalImage
	for _, given := range paths {
		root := filepath.Clean(given)
		info, err := os.Stat(root)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, status.Errorf(codes.NotFound, "no such file or folder: %s", given)
			}
			return nil, status.Errorf(codes.InvalidArgument, "cannot read %s: %v", given, err)
		}
		if !info.IsDir() {
			name := filepath.Base(root)
			if !IsImageFilename(name) {
				return nil, status.Errorf(codes.InvalidArgument, "%s is not an image file (%s)",
					given, strings.Join(ImageExtensions, " "))
			}
			out = append(out, LocalImage{Filename: name, Path: root})
			continue
		}
		prefix := ""
		if root != "." && filepath.Base(root) != ".." {
			abs, err := filepath.Abs(root)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "cannot list %s: %v", given, err)
			}
			prefix = filepath.Base(abs)
			if prefix == string(filepath.Separator) {
				prefix = ""
			}
		}
		var files []string // paths inside, '/'-separated
		labels := map[string]int64{}
		if err := walkImages(root, "", &files, labels); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "cannot list %s: %v", given, err)
		}
		sort.Strings(files)
		top := make([]string, 0, len(labels))
		for name := range labels {
			top = append(top, name)
		}
		sort.Strings(top)
		for i, name := range top {
			labels[name] = int64(i)
		}
		for _, inside := range files {
			var label int64
			if slash := strings.IndexByte(inside, '/'); slash >= 0 {
				label = labels[inside[:slash]]
			}
			name := inside
			if prefix != "" {
				name = prefix + "/" + inside
			}
			out = append(out, LocalImage{Filename: name,
				Path: filepath.Join(root, filepath.FromSlash(inside)), Label: label})
		}
	}
	return out, nil
}

// walkImages adds the images under dir (inside: its path below the root,
// "" for the root) to files; the root's subfolders go to firstLevel.
func walkImages(dir, inside string, files *[]string, firstLevel map[string]int64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		full := filepath.Join(dir, e.Name())
		rel := e.Name()
		if inside != "" {
			rel = inside + "/" + e.Name()
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if info, err := os.Stat(full); err == nil {
				isDir = info.IsDir()
			}
		}
		if isDir {
			if inside == "" {
				firstLevel[e.Name()] = 0
			}
			if err := walkImages(full, rel, files, firstLevel); err != nil {
				return err
			}
		} else if IsImageFilename(e.Name()) {
			*files = append(*files, rel)
		}
	}
	return nil
}

// eachImageGroup reads the images in pieces and calls emit with groups of
// chunks of about chunkBytes, in order; an image may span groups (its
// last chunk has Last set). emit is called at least once (with no chunks
// when there are no images).
func eachImageGroup(images []LocalImage, chunkBytes int, emit func([]*pb.ImageChunk) error) error {
	var group []*pb.ImageChunk
	size := 0
	emitted := false
	for _, image := range images {
		add := func(chunk *pb.ImageChunk) error {
			group = append(group, chunk)
			size += len(chunk.Data) + len(chunk.Filename) + 16
			if size < chunkBytes {
				return nil
			}
			err := emit(group)
			group, size, emitted = nil, 0, true
			return err
		}
		if err := readImage(image, chunkBytes-size, chunkBytes, add); err != nil {
			return err
		}
	}
	if len(group) > 0 || !emitted {
		return emit(group)
	}
	return nil
}

// readImage calls add with the image's chunks in order: the first of at
// most firstRoom bytes (at least 1), the others of at most chunkBytes.
func readImage(image LocalImage, firstRoom, chunkBytes int, add func(*pb.ImageChunk) error) error {
	f, err := os.Open(image.Path)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "cannot read %s: %v", image.Path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "cannot read %s: %v", image.Path, err)
	}
	left := info.Size()
	first := true
	room := firstRoom
	for {
		n := int64(room)
		if n < 1 {
			n = 1
		}
		if n > left {
			n = left
		}
		chunk := &pb.ImageChunk{Data: make([]byte, n)}
		if _, err := io.ReadFull(f, chunk.Data); err != nil {
			return status.Errorf(codes.InvalidArgument, "cannot read %s: %v", image.Path, err)
		}
		left -= n
		if first {
			chunk.Filename, chunk.Label = image.Filename, image.Label
			first = false
		}
		// A chunk that filled its room closed its group: the next one
		// starts a new group.
		room = chunkBytes
		chunk.Last = left == 0
		if err := add(chunk); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
	}
}
