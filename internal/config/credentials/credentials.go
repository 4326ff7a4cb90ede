// Package credentials expands $CREDENTIALS_DIRECTORY in the secret file
// keys of a configuration: systemd's LoadCredential= hands a unit's
// secrets to it alone in that directory, and the configuration names them
// there without knowing where systemd put them.
package credentials

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/facmon/facmon/internal/config/yamlcheck"
)

// Var is the variable systemd sets for a unit with
// LoadCredential=: the directory of its credentials, readable by the
// service alone. A *_file key may name a file in it as
// ${CREDENTIALS_DIRECTORY}/name, so the configuration does not need to
// know where systemd put them.
const Var = "CREDENTIALS_DIRECTORY"

// Expand replaces $CREDENTIALS_DIRECTORY and ${CREDENTIALS_DIRECTORY} in
// every string field under cfg (a pointer to a struct) whose YAML key ends
// in _file, with lookup giving the variable. It reports a key that uses
// the variable when it is not set, by its config path.
func Expand(cfg any, lookup func(string) (string, bool)) yamlcheck.Problems {
	dir, set := lookup(Var)
	var ps yamlcheck.Problems
	walkFileKeys(reflect.ValueOf(cfg).Elem(), "", func(path string, v reflect.Value) {
		s := v.String()
		if !strings.Contains(s, "$"+Var) && !strings.Contains(s, "${"+Var+"}") {
			return
		}
		if !set || dir == "" {
			ps = append(ps, yamlcheck.Problem{Path: path, Msg: fmt.Sprintf("%q uses $%s, which is not set: systemd sets it for a unit with LoadCredential= (deploy/systemd/facmon.service)", s, Var)})
			return
		}
		s = strings.ReplaceAll(s, "${"+Var+"}", dir)
		v.SetString(strings.ReplaceAll(s, "$"+Var, dir))
	})
	return ps
}

// walkFileKeys calls fn with every settable string field under v whose
// YAML key ends in _file, and its config path (as Problems name it).
func walkFileKeys(v reflect.Value, path string, fn func(string, reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkFileKeys(v.Elem(), path, fn)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" {
				continue
			}
			sub := path
			if key != "" {
				sub = join(path, key)
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.String && strings.HasSuffix(key, "_file") && fv.CanSet() {
				fn(sub, fv)
				continue
			}
			walkFileKeys(fv, sub, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkFileKeys(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		// Map values are not addressable: copy, walk, store back.
		for _, k := range v.MapKeys() {
			elem := reflect.New(v.Type().Elem()).Elem()
			elem.Set(v.MapIndex(k))
			walkFileKeys(elem, join(path, fmt.Sprint(k.Interface())), fn)
			v.SetMapIndex(k, elem)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
