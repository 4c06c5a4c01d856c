package image

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  bool
	}{
		{in: "nginx", want: Ref{Repository: "docker.io/library/nginx"}},
		{in: "nginx:1.25", want: Ref{Repository: "docker.io/library/nginx", Tag: "1.25"}},
		{in: "docker.io/library/nginx:1.25", want: Ref{Repository: "docker.io/library/nginx", Tag: "1.25"}},
		{in: "index.docker.io/library/nginx", want: Ref{Repository: "docker.io/library/nginx"}},
		{in: "bitnami/redis:7", want: Ref{Repository: "docker.io/bitnami/redis", Tag: "7"}},
		{in: "GHCR.io/org/app:v1", want: Ref{Repository: "ghcr.io/org/app", Tag: "v1"}},
		{in: "ghcr.io:443/org/app", want: Ref{Repository: "ghcr.io/org/app"}},
		{in: "localhost:5000/app:v1", want: Ref{Repository: "localhost:5000/app", Tag: "v1"}},
		{in: "localhost/app", want: Ref{Repository: "localhost/app"}},
		{in: "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp:release.20181103",
			want: Ref{Repository: "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp", Tag: "release.20181103"}},
		{in: "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			want: Ref{Repository: "docker.io/library/app", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{in: "app:v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			want: Ref{Repository: "docker.io/library/app", Tag: "v2", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{in: "", err: true},
		{in: "app:", err: true},
		{in: "app@", err: true},
		{in: "app@sha256:xyz", err: true},
		{in: "App/x", want: Ref{Repository: "app/x"}}, // an uppercase first component is a host
		{in: "org/App", err: true},
		{in: "app:bad tag", err: true},
		{in: "a//b", err: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("Parse(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"docker.io/library/nginx:1.25", "ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef", "ghcr.io/a/b"} {
		r, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != s {
			t.Errorf("String() = %q, want %q", r.String(), s)
		}
	}
}

func TestNeedle(t *testing.T) {
	for repo, want := range map[string]string{
		"docker.io/library/nginx": "nginx",
		"docker.io/bitnami/redis": "bitnami/redis",
		"ghcr.io/org/app":         "org/app",
	} {
		if got := Needle(repo); got != want {
			t.Errorf("Needle(%q) = %q, want %q", repo, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:c@sha256:0123456789abcdef0123456789abcdef", "localhost:5000/x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q which does not parse: %v", s, r.String(), err)
		}
		if again != r {
			t.Fatalf("normalisation not idempotent: %+v then %+v", r, again)
		}
	})
}
