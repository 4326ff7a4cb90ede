package dashboards

import (
	"fmt"
	"os"
	"path/filepath"
)

// FileName is the name of a dashboard's file in an export directory.
func FileName(uid string) string { return uid + ".json" }

// Export writes one JSON file per board into dir (created if missing), each
// replaced atomically, and returns the paths written. Other files in dir are
// left alone.
func Export(dir string, boards []Board) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var paths []string
	for _, b := range boards {
		raw, err := b.JSON()
		if err != nil {
			return paths, err
		}
		path := filepath.Join(dir, FileName(b.UID))
		if err := writeFile(path, raw); err != nil {
			return paths, fmt.Errorf("export: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeFile replaces path with data through a temporary file, so that
// Grafana's file provisioning, which rescans the directory, never reads a
// half-written dashboard.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
