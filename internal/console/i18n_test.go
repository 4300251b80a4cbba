package console

import (
	"io/fs"
	"net/http"
	"regexp"
	"testing"
)

// TestTextsComplete: every text has English and Russian, and every key a
// template uses exists.
func TestTextsComplete(t *testing.T) {
	for k, m := range texts {
		if m["en"] == "" || m["ru"] == "" {
			t.Errorf("text %q lacks a language: %v", k, m)
		}
	}
	re := regexp.MustCompile(`\.T "([a-z0-9._]+)"`)
	err := fs.WalkDir(assets, "assets/templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(assets, p)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if _, ok := texts[m[1]]; !ok {
				t.Errorf("%s uses unknown text %q", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"": "en", "ru-RU,ru;q=0.9": "ru", "de-DE,en;q=0.5,ru;q=0.3": "en", "uk,ru;q=0.8": "ru", "fr": "en"} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", in)
		if got := language(r); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
