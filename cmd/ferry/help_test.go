package main

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasHelp: each command a person runs has a long help that
// states its exit codes and has examples, and every help/NAME.txt belongs
// to a command (a renamed command loses no help silently).
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRoot(&globals{})
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		names[c.Name()] = true
		if c.Hidden || c.Name() == "version" || c.Name() == "demo" {
			return
		}
		if !strings.Contains(strings.ToLower(c.Long), "exit") || c.Example == "" {
			t.Errorf("%s: long help without exit codes or no examples:\n%s\n--\n%s", c.CommandPath(), c.Long, c.Example)
		}
		if strings.HasSuffix(c.Long, "\n") || strings.Contains(c.Long, "Examples:") {
			t.Errorf("%s: help text not split at its Examples line", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	files, err := fs.Glob(helpTexts, "help/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no help texts embedded: %v", err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(strings.TrimPrefix(f, "help/"), ".txt"); !names[name] {
			t.Errorf("%s names no command", f)
		}
	}
}
