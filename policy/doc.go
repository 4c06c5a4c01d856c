// Package policy reads Ferry's image policies and picks, for each, the tag
// an image should be updated to.
//
// # Policy files
//
// Policies live in YAML files (LoadDir reads every *.yaml and *.yml below a
// directory, in order of path; a file may hold several documents separated
// by ---). Each document names its kind:
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: ImagePolicy
//	metadata:
//	  name: myapp-staging
//	spec:
//	  image: 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp
//	  filterTags:
//	    pattern: '^release\.(?P<stamp>\d{8})$'
//	    extract: '$stamp'
//	    exclude: ['\.sig$']
//	  policy:
//	    date: {layout: '20060102'}
//	  minAge: 30m
//	  digest: false
//	  update:
//	    paths: ['overlays/staging/**']
//	  pullRequest: {group: prod, labels: [deploy], draft: true}
//
// Documents of kind App and Config are not read here: they are kept, with
// their own bytes, in Set.Others for the packages that own them. Empty
// documents are ignored; any other kind is an error.
//
// Every ImagePolicy is validated strictly before any of them is used, and
// every problem is reported, not just the first: unknown or duplicate
// fields, values of the wrong type, missing required fields, a wrong
// apiVersion, no strategy or more than one, regular expressions that do not
// compile, an extract naming a group the pattern lacks, a bad semver range,
// date layout, order, duration or glob, an image with a tag or digest, a
// name used twice, YAML that does not parse, and YAML aliases (which could
// expand a small file into a huge one). The problems come back as Errors,
// each located to the file and line of the offending field, and read
// "FILE:LINE: FIELD: MESSAGE".
//
// Scalars are taken as written: a layout of 20060102 or a range of 2 needs
// no quotes. An explicit null is the same as leaving the field out, except
// under spec.policy, where "pushedAt:" or "numerical:" with no value selects
// that strategy with its defaults.
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
