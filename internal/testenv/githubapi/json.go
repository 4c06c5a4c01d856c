package githubapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// kind is the JSON type of a body property.
type kind int

const (
	kString kind = iota
	kBool
	kInt
	kStringList
)

func (k kind) String() string {
	switch k {
	case kString:
		return "a string"
	case kBool:
		return "a boolean"
	case kInt:
		return "an integer"
	default:
		return "an array"
	}
}

// prop describes one property of a request body's schema.
type prop struct {
	name     string
	kind     kind
	required bool
	nullable bool
	enum     []string
}

// fields are a validated body: string, bool, int64 and []string values of
// the properties present (null ones absent).
type fields map[string]any

func (f fields) str(name string) (string, bool) {
	v, ok := f[name].(string)
	return v, ok
}

func (f fields) boolean(name string) (bool, bool) {
	v, ok := f[name].(bool)
	return v, ok
}

func (f fields) list(name string) ([]string, bool) {
	v, ok := f[name].([]string)
	return v, ok
}

// decodeJSON parses a body the way GitHub does: 400 "Problems parsing JSON"
// unless it is one well-formed JSON value. An empty body is null.
func decodeJSON(body []byte) (any, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // trailing data
	}
	return v, true
}

// render spells a JSON value the way GitHub's schema errors quote it.
func render(v any) string {
	if v == nil {
		return "nil"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// validate checks a body against props: an object (an empty body counts as
// {}), each present property of its kind (unknown properties are ignored,
// as GitHub does), required ones present, enums respected. It answers like
// GitHub: 400 for malformed JSON, 422 "Invalid request." otherwise.
func validate(body []byte, props ...prop) (fields, int, any) {
	v, ok := decodeJSON(body)
	if !ok {
		st, o := fail(http.StatusBadRequest, "Problems parsing JSON")
		return nil, st, o
	}
	if v == nil {
		v = map[string]any{}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		st, o := invalidRequest(fmt.Sprintf("For 'links/0/schema', %s is not an object.", render(v)))
		return nil, st, o
	}
	return validateObject(obj, props...)
}

func validateObject(obj map[string]any, props ...prop) (fields, int, any) {
	out := fields{}
	for _, p := range props {
		raw, present := obj[p.name]
		if !present {
			if p.required {
				st, o := invalidRequest(fmt.Sprintf("%q wasn't supplied.", p.name))
				return nil, st, o
			}
			continue
		}
		if raw == nil {
			if p.nullable {
				continue
			}
			st, o := invalidRequest(fmt.Sprintf("For 'properties/%s', nil is not %s.", p.name, p.kind))
			return nil, st, o
		}
		bad := func() (fields, int, any) {
			st, o := invalidRequest(fmt.Sprintf("For 'properties/%s', %s is not %s.", p.name, render(raw), p.kind))
			return nil, st, o
		}
		switch p.kind {
		case kString:
			s, ok := raw.(string)
			if !ok {
				return bad()
			}
			if len(p.enum) > 0 && !slices.Contains(p.enum, s) {
				st, o := invalidRequest(fmt.Sprintf("For 'properties/%s', %s is not a member of [%s].", p.name, render(raw), strings.Join(quoteAll(p.enum), ", ")))
				return nil, st, o
			}
			out[p.name] = s
		case kBool:
			b, ok := raw.(bool)
			if !ok {
				return bad()
			}
			out[p.name] = b
		case kInt:
			n, ok := raw.(json.Number)
			if !ok {
				return bad()
			}
			i, err := strconv.ParseInt(n.String(), 10, 64)
			if err != nil {
				return bad()
			}
			out[p.name] = i
		case kStringList:
			arr, ok := raw.([]any)
			if !ok {
				return bad()
			}
			list := make([]string, 0, len(arr))
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					st, o := invalidRequest(fmt.Sprintf("For 'items', %s is not a string.", render(e)))
					return nil, st, o
				}
				list = append(list, s)
			}
			out[p.name] = list
		}
	}
	return out, 0, nil
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}

// paged renders with render the items of the page c asks for (paginate).
func paged[T, R any](c *ctx, items []T, render func(T) R) []any {
	start, end := paginate(c, len(items))
	out := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		out = append(out, render(it))
	}
	return out
}

// paginate applies per_page (default 30, at most 100) and page (from 1) to
// total items, sets the Link header the way GitHub does (rel first, prev,
// next, last as they apply) and returns the slice bounds of the page.
func paginate(c *ctx, total int) (start, end int) {
	q := c.r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max((total+perPage-1)/perPage, 1)

	link := func(n int, rel string) string {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(n))
		qq.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", c.baseURL, c.r.URL.Path, qq.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		c.header.Set("Link", strings.Join(links, ", "))
	}

	start = min((page-1)*perPage, total)
	end = min(start+perPage, total)
	return start, end
}
