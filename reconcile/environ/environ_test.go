package environ

import "testing"

func TestGetTakesTheLastEntry(t *testing.T) {
	env := []string{"A=1", "B=x=y", "A=2", "C"}
	for key, want := range map[string]string{"A": "2", "B": "x=y", "C": "", "D": ""} {
		if got := Get(env, key); got != want {
			t.Errorf("Get(%s) = %q, want %q", key, got, want)
		}
	}
}
