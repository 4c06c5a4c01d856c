package render

import "io/fs"

// AppOption tunes App.
type AppOption func(*appOptions)

type appOptions struct {
	wrapFS func(fs.FS) fs.FS
}

// WithFS makes App read the revision's tree through wrap(tree): the sync
// engine decrypts SOPS files this way, in memory, before the renderers
// see them.
func WithFS(wrap func(fs.FS) fs.FS) AppOption {
	return func(o *appOptions) { o.wrapFS = wrap }
}
