package image

import "strings"

// ShortDigest abbreviates a digest for people: the algorithm and the first
// 12 hex digits ("sha256:0123456789ab"), as docker and kubectl show them.
// Anything else is returned as it is.
func ShortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}
