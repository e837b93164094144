package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryCommand keeps the README's CLI reference in step with
// the command table.
func TestREADMEListsEveryCommand(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(string(data), "`brokerd "+c.name) {
			t.Errorf("README.md does not document `brokerd %s`", c.name)
		}
	}
}
