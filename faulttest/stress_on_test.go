//go:build stress

package faulttest

// stress is true with -tags stress: full-size churn and idle-connection runs.
const stress = true
