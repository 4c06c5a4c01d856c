package printer

import "testing"

func TestCommand(t *testing.T) {
	got := Command("ferry", "rollback", "web", "--release", "--repo", "https://github.com/acme/m.git", "--context", "my context", "--workdir", "it's")
	want := `ferry rollback web --release --repo https://github.com/acme/m.git --context 'my context' --workdir 'it'\''s'`
	if got != want {
		t.Errorf("Command = %s\nwant      %s", got, want)
	}
	if got := Command(""); got != "''" {
		t.Errorf("Command of an empty argument = %s", got)
	}
}
