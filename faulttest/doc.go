// Package faulttest holds brokerd's fault, fuzz and soak tests that need a
// whole server in-process: raw Engine.IO/Socket.IO frames against a live
// server, connect/disconnect churn and many idle connections. It has no
// code of its own; everything is in its _test.go files.
package faulttest
