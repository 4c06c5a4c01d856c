package policy

import (
	"fmt"
	"regexp"
	"time"
)

// The checks below are what a policy's reader (package dotferry) asks of
// the values only selection understands, so that an invalid policy is
// refused, with its file and line, before any is used.

// CheckExtract reports whether tmpl is a valid spec.filterTags.extract for
// pattern re: every group it names exists and every "$" is well formed.
func CheckExtract(re *regexp.Regexp, tmpl string) error {
	_, err := compileTemplate(re, tmpl)
	return err
}

// CheckGlob reports whether g is a valid spec.update.paths entry.
func CheckGlob(g string) error { return checkGlob(g) }

// CheckRange reports whether r is a valid semver range ("" is any).
func CheckRange(r string) error {
	_, err := parseRange(r)
	return err
}

// CheckLayout reports whether layout is a usable date layout: one with at
// least one date or time element (see time.Layout).
func CheckLayout(layout string) error {
	ref := time.Date(2001, 11, 12, 13, 14, 15, 161718192, time.FixedZone("ZZZ", 3600*7))
	if ref.Format(layout) == layout {
		return fmt.Errorf("%q has no date or time elements (see Go's time.Layout, e.g. 20060102)", layout)
	}
	return nil
}
