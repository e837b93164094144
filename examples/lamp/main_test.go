package main

import (
	"math"
	"testing"
)

func TestClampBrightness(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{-5, 0}, {0, 0}, {42, 42}, {42.44, 42.4}, {100, 100}, {250, 100}, {math.Inf(1), 100}, {math.NaN(), 0},
	} {
		if got := clampBrightness(tc.in); got != tc.want {
			t.Errorf("clampBrightness(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestObjectsCoverStates(t *testing.T) {
	seen := map[string]string{}
	for _, o := range objects("lamp.0") {
		seen[o.id] = o.obj.Type
	}
	for id, typ := range map[string]string{"": "meta", "lamp1": "device", idOn: "state", idBrightness: "state", idConnection: "state"} {
		if seen[id] != typ {
			t.Errorf("object %q: type %q, want %q", id, seen[id], typ)
		}
	}
}
