package adapter

import (
	"encoding/json"
	"errors"
	"sort"
)

// Object is an object of the object database (datamodel.md 1.1). Fields the
// SDK does not name (acl, enums, nonEdit, instanceObjects, …) are kept in
// Extra and written back unchanged, so a read-modify-write keeps them.
//
// Empty fields are omitted on the wire, which makes an Object with only
// some fields set usable as an ExtendObject patch.
type Object struct {
	ID     string         // "_id": set by the server from the id argument
	Type   string         // state, channel, device, folder, meta, …
	Common map[string]any // name, role, type, read, write, min, max, unit, …
	Native map[string]any // adapter-private configuration
	From   string
	User   string
	TS     int64
	Extra  map[string]json.RawMessage
}

// MarshalJSON writes the object with Extra merged in (set named fields win).
func (o Object) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(o.Extra)+7)
	for k, v := range o.Extra {
		m[k] = v
	}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("_id", o.ID, o.ID != "")
	set("type", o.Type, o.Type != "")
	set("common", o.Common, o.Common != nil)
	set("native", o.Native, o.Native != nil)
	set("from", o.From, o.From != "")
	set("user", o.User, o.User != "")
	set("ts", o.TS, o.TS != 0)
	return json.Marshal(m)
}

// UnmarshalJSON reads an object as the server sends it.
func (o *Object) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		return errors.New("adapter: object is null")
	}
	// Decode field by field; a field of an unexpected shape (e.g. a string
	// common) is kept in Extra instead of failing the whole object.
	*o = Object{}
	for k, v := range raw {
		var err error
		switch k {
		case "_id":
			err = json.Unmarshal(v, &o.ID)
		case "type":
			err = json.Unmarshal(v, &o.Type)
		case "common":
			err = json.Unmarshal(v, &o.Common)
		case "native":
			err = json.Unmarshal(v, &o.Native)
		case "from":
			err = json.Unmarshal(v, &o.From)
		case "user":
			err = json.Unmarshal(v, &o.User)
		case "ts":
			var f float64
			err = json.Unmarshal(v, &f)
			o.TS = int64(f)
		default:
			err = errors.New("unnamed")
		}
		if err != nil {
			if o.Extra == nil {
				o.Extra = map[string]json.RawMessage{}
			}
			o.Extra[k] = v
		}
	}
	return nil
}

// ExtraKeys lists the keys kept in Extra, sorted (for logs and tests).
func (o *Object) ExtraKeys() []string {
	keys := make([]string, 0, len(o.Extra))
	for k := range o.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// normalizeOwn applies the own-namespace setObject rules of ioBroker's
// adapter layer (datamodel.md 1.2): type is mandatory, missing common and
// native become {}, a missing common.name becomes the id.
func normalizeOwn(id string, o Object) (Object, error) {
	if o.Type == "" {
		return o, errors.New("adapter: mandatory property type missing")
	}
	common := make(map[string]any, len(o.Common)+1)
	for k, v := range o.Common {
		common[k] = v
	}
	if _, ok := common["name"]; !ok {
		common["name"] = id
	}
	o.Common = common
	if o.Native == nil {
		o.Native = map[string]any{}
	}
	return o, nil
}
