package awsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Decode unmarshals a request body into v, a pointer to the operation's
// input struct, as strictly as a modelled service does: the body must be a
// JSON object; every member name must be one of v's json tags, matched
// exactly (encoding/json alone would match "RepositoryName" to
// "repositoryName" and drop unknown members); and every member must have
// the type its field declares (a string where a number belongs, 1.5 for an
// integer, or malformed base64 for a []byte blob). Any violation is a 400
// SerializationException naming the member. An empty body is {}; null
// members are absent.
func Decode(body []byte, v any) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := checkMembers(body, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return BadRequest("SerializationException", "cannot deserialize the request: %v", err)
	}
	if dec.More() {
		return BadRequest("SerializationException", "trailing data after the request object")
	}
	return nil
}

// checkMembers walks raw along t and rejects member names t does not
// declare.
func checkMembers(raw json.RawMessage, t reflect.Type, path string) *Error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	where := path
	if where == "" {
		where = "the request"
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]():
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return BadRequest("SerializationException", "expected a JSON object at %s", where)
		}
		fields := jsonFields(t)
		for name, value := range members {
			f, ok := fields[name]
			if !ok {
				return BadRequest("SerializationException", "unknown member %q at %s", name, where)
			}
			if err := checkMembers(value, f.Type, join(path, name)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return BadRequest("SerializationException", "expected a JSON array at %s", where)
		}
		for i, item := range items {
			if err := checkMembers(item, t.Elem(), join(path, strconv.Itoa(i))); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map:
		var entries map[string]json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			return BadRequest("SerializationException", "expected a JSON object at %s", where)
		}
		for k, value := range entries {
			if err := checkMembers(value, t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields are the members of struct type t by their JSON names.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			// An embedded struct's members are the outer struct's, as
			// encoding/json reads them; the outer struct's own win.
			for name, ef := range jsonFields(f.Type) {
				if _, ok := fields[name]; !ok {
					fields[name] = ef
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}

func join(path, member string) string {
	if path == "" {
		return "'" + member + "'"
	}
	return strings.TrimSuffix(path, "'") + "." + member + "'"
}

// EpochSeconds is a timestamp in the AWS JSON wire format: seconds since
// the epoch as a JSON number, fractional to the millisecond.
type EpochSeconds time.Time

// MarshalJSON implements json.Marshaler.
func (t EpochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	frac := strings.TrimRight(fmt.Sprintf("%03d", ms%1000), "0")
	return fmt.Appendf(nil, "%d.%s", ms/1000, frac), nil
}
