// Package policy picks, for each image policy, the tag an image should be
// updated to. It is pure: Select takes the registry's tags, a Policy and
// the current time, and neither reads files nor calls the network.
//
// A Policy is what an ImagePolicy document says once validated; package
// dotferry reads those documents (and refuses invalid ones, with file,
// line and field, using the Check functions of this package for the values
// only selection understands). A Policy can also be built in code.
//
// # Selecting a tag
//
// Select runs the registry's tags through the policy:
//
//  1. filterTags.pattern keeps the tags it matches (unanchored unless the
//     pattern anchors itself; no pattern keeps every tag);
//  2. filterTags.exclude drops the tags any of its expressions match;
//  3. filterTags.extract turns the tag into the value to order by, with
//     regexp.Expand syntax ($name, ${name}, $1); without it the value is the
//     whole tag (use $0 for only the part the pattern matched);
//  4. minAge drops the tags pushed less than minAge ago, and skips those
//     with no push time;
//  5. the strategy parses the value and orders the tags, and the highest
//     wins:
//     - date: time.Parse with the layout; the latest date wins. A value that
//     is not a real date (release.20240231) is skipped.
//     - semver: parsed like semver.NewVersion (a leading "v", a missing
//     minor or patch and leading zeros are accepted, so the calendar
//     versions 2024.09.01 and 2024.1.30 are 2024.9.1 and 2024.1.30) and
//     ordered by semantic version precedence (v1.10.0 is above v1.9.0).
//     Only versions the range accepts take part, with Masterminds/semver's
//     rules: prereleases only when the range names a prerelease
//     (">=1.0.0-0"); no range accepts every release and no prerelease.
//     - numerical: decimal numbers ("42", "-1.5", "1e3"), compared exactly
//     however many digits they have; hexadecimal, Inf and NaN are not
//     numbers here. asc (the default) picks the highest, desc the lowest.
//     - alphabetical: byte order; asc (the default) picks the last, desc the
//     first.
//     - pushedAt: the latest push time wins; tags with none are skipped.
//
// Values that match the pattern but do not parse are listed in
// Choice.Skipped with the reason; a semver tag out of range is not a skip,
// merely not a match. Ties (v1.0.0 and 1.0.0, equal push times) go to the
// later push, then the greater tag name, so the result never depends on
// the order the registry listed the tags in.
//
// (*Policy).Compare orders two tags the same way, for callers that must never
// downgrade, and (*Policy).Governs tells whether a file is in update.paths.
package policy
