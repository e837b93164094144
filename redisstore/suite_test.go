package redisstore

import (
	"testing"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/states"
	"github.com/brokerd/brokerd/storetest"
)

func TestStatesSuite(t *testing.T) {
	storetest.RunStates(t, func(t *testing.T) states.Store {
		s, err := OpenStates(testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

func TestObjectsSuite(t *testing.T) {
	storetest.RunObjects(t, func(t *testing.T) storetest.ObjectStore {
		s, err := OpenObjects(testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

func TestFilesSuite(t *testing.T) {
	storetest.RunFiles(t, func(t *testing.T, env *storetest.FilesEnv) files.Store {
		s, err := OpenFiles(testOptions(t), files.NamespaceFunc(env.IsMeta), env.DefaultACL)
		if err != nil {
			t.Fatal(err)
		}
		s.Now = env.Now
		s.SetUserGroups(env.Groups)
		t.Cleanup(s.Close)
		return s
	})
}
