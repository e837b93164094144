package objects

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
)

// Types are the allowed object types (datamodel.md 1.2).
var Types = []string{"state", "channel", "device", "enum", "host", "adapter", "instance", "meta",
	"config", "script", "user", "group", "chart", "folder", "schedule", "design"}

// StateValueTypes are the allowed common.type values of state objects.
var StateValueTypes = []string{"number", "string", "boolean", "array", "object", "mixed", "json"}

var (
	validType      = toSet(Types)
	validStateType = toSet(StateValueTypes)
	// preservedKeys survive a setObject that omits them (custom is special).
	preservedKeys = []string{"smartName", "material", "habpanel", "mobile"}
	// wholesale arrays are replaced, not merged by index, by Extend.
	wholesale = map[string]bool{"common.members": true, "native.repositories": true,
		"native.certificates": true, "native.devices": true}
)

func toSet(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

// ValidateObject checks the shape of obj: a type of Types, common an object,
// a state's common.type, enum/group members and acl field types.
func ValidateObject(obj Object) error {
	if obj == nil {
		return ErrNullObject
	}
	t, ok := obj["type"]
	if !ok || t == nil || t == "" {
		return ErrTypeMissing
	}
	typ, _ := t.(string)
	if !validType[typ] {
		return &ValidationError{Field: "type", Msg: fmt.Sprintf("Invalid type %s: property \"type\" must be one of %s",
			jsonText(t), strings.Join(Types, ", "))}
	}
	if c, ok := obj["common"]; ok {
		common, isMap := c.(map[string]any)
		if !isMap {
			return &ValidationError{Field: "common", Msg: "property \"common\" must be an object"}
		}
		if err := validateCommon(typ, common); err != nil {
			return err
		}
	}
	if a, ok := obj["acl"]; ok && a != nil {
		am, isMap := a.(map[string]any)
		if !isMap {
			return &ValidationError{Field: "acl", Msg: "property \"acl\" must be an object"}
		}
		for _, k := range []string{"owner", "ownerGroup"} {
			if v, ok := am[k]; ok {
				if _, isStr := v.(string); !isStr {
					return &ValidationError{Field: "acl." + k, Msg: fmt.Sprintf("property \"acl.%s\" must be a string", k)}
				}
			}
		}
		for _, k := range []string{"object", "state", "file"} {
			if v, ok := am[k]; ok && !isNumber(v) {
				return &ValidationError{Field: "acl." + k, Msg: fmt.Sprintf("property \"acl.%s\" must be a number", k)}
			}
		}
	}
	return nil
}

func validateCommon(typ string, common map[string]any) error {
	switch typ {
	case "state":
		if v, ok := common["type"]; ok {
			s, _ := v.(string)
			if !validStateType[s] {
				return &ValidationError{Field: "common.type", Msg: fmt.Sprintf("Invalid common.type %s: must be one of %s",
					jsonText(v), strings.Join(StateValueTypes, ", "))}
			}
		}
	case "enum", "group":
		if v, ok := common["members"]; ok {
			arr, isArr := v.([]any)
			valid := isArr
			for _, m := range arr {
				if _, isStr := m.(string); !isStr {
					valid = false
				}
			}
			if !valid {
				return &ValidationError{Field: "common.members", Msg: "property \"common.members\" must be an array of strings"}
			}
		}
	}
	return nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case float64, float32, int, int64, int32, uint, uint64, uint32, json.Number:
		return true
	}
	return false
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// falsy is JavaScript falsiness of a decoded value.
func falsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case float64:
		return x == 0
	case int:
		return x == 0
	case int64:
		return x == 0
	}
	return false
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// encodeJSON marshals without HTML escaping (script sources stay readable).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil
}

// fillEnvelope sets from/user/ts only when missing (datamodel.md 1.1).
func fillEnvelope(n Object, o WriteOptions) {
	if falsy(n["from"]) && o.From != "" {
		n["from"] = o.From
	}
	if falsy(n["user"]) {
		u := o.User
		if u == "" && o.Subject != nil {
			u = o.Subject.User
		}
		if u == "" {
			u = acl.Admin
		}
		n["user"] = u
	}
	if falsy(n["ts"]) {
		n["ts"] = time.Now().UnixMilli()
	}
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

// Set replaces id with obj (datamodel.md 1.5 setObject).
func (s *BoltStore) Set(id string, obj Object, o WriteOptions) (Object, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := ValidateObject(obj); err != nil {
		return nil, err
	}
	n := deepCopy(obj).(map[string]any)
	n["_id"] = id
	fillEnvelope(n, o)

	s.mu.Lock()
	old := s.m[id]
	var oldObj Object
	if old != nil {
		var err error
		if oldObj, err = decode(old.raw); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	if err := s.checkWrite(old, n, o.Subject); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := s.prepare(n, oldObj, o, true); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	wait, err := s.store(id, old, n)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := wait(); err != nil {
		return nil, err
	}
	return n, nil
}

// SetJSON is Set for an undecoded argument: anything but a JSON object is
// refused with `null object` / `no object`.
func (s *BoltStore) SetJSON(id string, raw json.RawMessage, o WriteOptions) (Object, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, ErrNullObject
	}
	if t[0] != '{' {
		return nil, ErrNoObject
	}
	obj, err := decode(t)
	if err != nil {
		return nil, ErrNoObject
	}
	return s.Set(id, obj, o)
}

// checkWrite applies the [GO] write rules for a non-admin subject: WRITE on
// the existing object, and only the owner may hand the object to someone
// else (on a new or acl-less object one may only name oneself as owner).
func (s *BoltStore) checkWrite(old *entry, n Object, sub *acl.Subject) error {
	if sub == nil || sub.Admin {
		return nil
	}
	if old != nil && !objectAllowed(sub, old.meta, acl.Write) {
		return ErrPermission
	}
	a := mapOf(n["acl"])
	if a == nil {
		return nil
	}
	newOwner, _ := a["owner"].(string)
	if old != nil && old.meta.ACL != nil {
		if newOwner != old.meta.ACL.Owner && sub.User != old.meta.ACL.Owner {
			return ErrPermission
		}
		return nil
	}
	if newOwner != "" && newOwner != sub.User {
		return ErrPermission
	}
	return nil
}

// prepare runs nonEdit, preserve (set only), alias and acl rules on n.
func (s *BoltStore) prepare(n, oldObj Object, o WriteOptions, isSet bool) error {
	if err := applyNonEdit(n, oldObj); err != nil {
		return err
	}
	if isSet && oldObj != nil {
		preserve(n, oldObj)
	}
	if err := checkAlias(n); err != nil {
		return err
	}
	if v, ok := n["acl"]; ok && v == nil {
		delete(n, "acl")
	}
	if _, has := n["acl"]; !has && oldObj != nil {
		if oa := mapOf(oldObj["acl"]); oa != nil {
			n["acl"] = oa
		}
	}
	s.applyDefaultACL(n, o, isSet || oldObj == nil)
	return nil
}

// store encodes n, installs it and enqueues the commit. Caller holds mu.
func (s *BoltStore) store(id string, old *entry, n Object) (func() error, error) {
	raw, err := encodeJSON(n)
	if err != nil {
		return nil, err
	}
	e, err := parseEntry(id, raw)
	if err != nil {
		return nil, err
	}
	s.install(e)
	return s.commit(id, old, e), nil
}

// preserve applies the keep-unless-nulled rules of datamodel.md 1.5 step 4.
func preserve(n, oldObj Object) {
	nc, oc := mapOf(n["common"]), mapOf(oldObj["common"])
	if nc == nil || oc == nil {
		return
	}
	oldC := mapOf(oc["custom"])
	newV, hasNew := nc["custom"]
	if hasNew && newV != nil && mapOf(newV) == nil {
		delete(nc, "custom") // a non-object custom is dropped
		hasNew = false
	}
	var res map[string]any
	keep := false
	switch {
	case hasNew && newV == nil:
		delete(nc, "custom")
	case hasNew:
		res = make(map[string]any)
		for k, v := range oldC {
			res[k] = v
		}
		for k, v := range mapOf(newV) {
			res[k] = v
		}
		keep = true
	case n["type"] == "state" && oldC != nil:
		res = oldC
		keep = true
	}
	if keep {
		for k, v := range res {
			if v == nil {
				delete(res, k)
			}
		}
		if len(res) == 0 {
			delete(nc, "custom")
		} else {
			nc["custom"] = res
		}
	}
	for _, k := range preservedKeys {
		v, has := nc[k]
		switch {
		case has && v == nil:
			delete(nc, k)
		case !has:
			if ov, ok := oc[k]; ok {
				nc[k] = ov
			}
		}
	}
}

// checkAlias: common.alias.id is a string or {read, write} strings and never
// points into alias.*.
func checkAlias(n Object) error {
	al := mapOf(mapOf(n["common"])["alias"])
	if al == nil || falsy(al["id"]) {
		return nil
	}
	var targets []string
	switch id := al["id"].(type) {
	case string:
		targets = []string{id}
	case map[string]any:
		r, ok1 := id["read"].(string)
		w, ok2 := id["write"].(string)
		if !ok1 || !ok2 {
			return ErrInvalidAliasID
		}
		targets = []string{r, w}
	default:
		return ErrInvalidAliasID
	}
	for _, t := range targets {
		if strings.HasPrefix(t, "alias.") {
			return ErrAliasOnAlias
		}
	}
	return nil
}

// applyDefaultACL gives an acl-less object the defaultNewAcl (step 6).
// setOwner makes the caller owner/ownerGroup (setObject); extendObject keeps
// the defaultNewAcl owner.
func (s *BoltStore) applyDefaultACL(n Object, o WriteOptions, setOwner bool) {
	d := s.defACL
	if d == nil {
		return
	}
	group := ""
	if o.Subject != nil && len(o.Subject.Groups) > 0 {
		group = o.Subject.Groups[0]
	}
	if a := mapOf(n["acl"]); a != nil {
		if falsy(a["ownerGroup"]) {
			if group == "" {
				group = d.OwnerGroup
			}
			if group == "" {
				group = acl.AdminGroup
			}
			a["ownerGroup"] = group
		}
		return
	}
	a := map[string]any{"owner": d.Owner, "ownerGroup": d.OwnerGroup, "object": d.Object}
	if d.Owner == "" {
		a["owner"] = acl.Admin
	}
	if d.OwnerGroup == "" {
		a["ownerGroup"] = acl.AdminGroup
	}
	if n["type"] == "state" {
		a["state"] = d.State
	}
	if setOwner {
		user := o.User
		if o.Subject != nil {
			user = o.Subject.User
		}
		if user != "" && user != acl.Admin {
			a["owner"] = user
		}
		if group != "" && group != acl.AdminGroup {
			a["ownerGroup"] = group
		}
	}
	n["acl"] = a
}

// NonEditHash is the nonEdit.passHash of a password: base64(sha256(pw)).
func NonEditHash(password string) string {
	h := sha256.Sum256([]byte(password))
	return base64.StdEncoding.EncodeToString(h[:])
}

// applyNonEdit implements vendor protection (datamodel.md 1.9).
func applyNonEdit(n, oldObj Object) error {
	newNE := mapOf(n["nonEdit"])
	var oldNE map[string]any
	if oldObj != nil {
		oldNE = mapOf(oldObj["nonEdit"])
	}
	oldHash, _ := oldNE["passHash"].(string)
	pw, hasPW := newNE["password"].(string)
	if oldHash != "" {
		_, present := n["nonEdit"]
		switch {
		case hasPW:
			if NonEditHash(pw) != oldHash {
				return ErrNonEdit
			}
		case !present:
			n["nonEdit"] = oldNE
			newNE = oldNE
		default:
			if !sameNonEdit(newNE, oldNE) {
				return ErrNonEdit
			}
		}
	}
	if newNE == nil {
		return nil
	}
	if hasPW {
		delete(newNE, "password")
		newNE["passHash"] = NonEditHash(pw)
		if oldHash != "" {
			newNE["passHash"] = oldHash
		}
		return nil // the password holder may change protected values
	}
	if oldHash == "" {
		return nil
	}
	for _, part := range []string{"common", "native"} {
		prot := mapOf(newNE[part])
		if prot == nil {
			continue
		}
		dst := mapOf(n[part])
		if dst == nil {
			dst = map[string]any{}
			n[part] = dst
		}
		oldPart := mapOf(oldObj[part])
		for k, v := range prot {
			switch v {
			case "__no_change__":
				if ov, ok := oldPart[k]; ok {
					dst[k] = ov
				}
			case "__delete__":
				delete(dst, k)
			default:
				dst[k] = deepCopy(v)
			}
		}
	}
	return nil
}

func sameNonEdit(a, b map[string]any) bool {
	strip := func(m map[string]any) map[string]any {
		c := make(map[string]any, len(m))
		for k, v := range m {
			if k != "password" {
				c[k] = v
			}
		}
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// Extend deep-merges patch into id (jQuery extend(true, …)), creating the
// object when missing.
func (s *BoltStore) Extend(id string, patch Object, o WriteOptions) (Object, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, ErrNullObject
	}
	p := deepCopy(patch).(map[string]any)
	fillEnvelope(p, o)
	p["_id"] = id

	return s.extend(id, p, o)
}

func (s *BoltStore) extend(id string, p Object, o WriteOptions) (Object, error) {
	s.mu.Lock()
	old := s.m[id]
	var oldObj Object
	merged := map[string]any{}
	if old != nil {
		var err error
		if oldObj, err = decode(old.raw); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if merged, err = decode(old.raw); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	if err := s.checkWrite(old, p, o.Subject); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	merge(merged, p, "")
	if err := ValidateObject(merged); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := s.prepare(merged, oldObj, o, false); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	wait, err := s.store(id, old, merged)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := wait(); err != nil {
		return nil, err
	}
	return merged, nil
}

// merge is jQuery's deep extend: objects merge by key, arrays by index, any
// other value (null included) overwrites; a few arrays are replaced whole.
func merge(dst, src map[string]any, path string) {
	for k, v := range src {
		full := k
		if path != "" {
			full = path + "." + k
		}
		dst[k] = mergeValue(dst[k], v, full)
	}
}

func mergeValue(old, v any, path string) any {
	switch sv := v.(type) {
	case map[string]any:
		d := mapOf(old)
		if d == nil {
			d = map[string]any{}
		}
		merge(d, sv, path)
		return d
	case []any:
		if wholesale[path] {
			return sv
		}
		d, _ := old.([]any)
		for i, e := range sv {
			if i < len(d) {
				d[i] = mergeValue(d[i], e, path)
			} else {
				d = append(d, mergeValue(nil, e, path))
			}
		}
		if d == nil {
			d = []any{}
		}
		return d
	}
	return v
}
