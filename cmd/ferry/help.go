package main

import (
	"embed"
	"strings"

	"github.com/spf13/cobra"
)

// helpTexts are the commands' long help and examples, one file per command
// (help/NAME.txt), kept out of the Go code so that they read and review as
// the documentation they are.
//
//go:embed help/*.txt
var helpTexts embed.FS

// setHelp fills the Long and Example of cmd and its subcommands from
// help/NAME.txt: the text before a line "Examples:" is Long, the rest is
// Example.
func setHelp(cmd *cobra.Command) {
	if b, err := helpTexts.ReadFile("help/" + cmd.Name() + ".txt"); err == nil {
		long, ex, _ := strings.Cut(string(b), "\n\nExamples:\n")
		cmd.Long, cmd.Example = long, strings.TrimSuffix(ex, "\n")
	}
	for _, c := range cmd.Commands() {
		setHelp(c)
	}
}
