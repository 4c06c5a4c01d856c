// Package document reads YAML documents strictly: one splitter, one walker
// whose errors give the file, the line, the field and the allowed fields,
// and one reader of a directory of documents that applies the same rules to
// a directory on disk and to a git tree (any fs.FS).
//
// It knows no kind of document: package dotferry reads Ferry's own kinds
// (ImagePolicy, App, Config, ...) from a repository's .ferry directory with
// it, and the service reads its run configuration with Decode.
//
// Every problem found is reported, not only the first, as Errors: each
// *Error reads "FILE:LINE: FIELD: MESSAGE" (without "FIELD: " when the
// problem concerns a whole document), and errors.As finds an Errors or a
// single *Error in what a reader returns.
//
// The rules:
//   - a file is cut into documents at lines of "---" and "..." (Split);
//     a leading byte order mark is dropped; empty documents are skipped;
//   - YAML aliases are refused (a small file could expand into a huge tree);
//   - a document must be a mapping; keys are strings, each set once;
//   - unknown fields are errors that list the allowed ones;
//   - scalars are taken as written: 20060102 or 2 need no quotes where a
//     string is expected; booleans, lists and mappings are type errors;
//     an explicit null is the same as leaving the field out;
//   - in a directory, every *.yaml and *.yml file below it is read, in
//     order of path; symbolic links are never followed, on disk or in git:
//     a symbolic link to a file is an error naming it (a link silently
//     skipped would hide documents).
package document
