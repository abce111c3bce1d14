package daemon

import (
	"encoding"
	"fmt"
	"strconv"
	"time"
)

// envVar binds one environment variable to the field it sets.
type envVar struct {
	name string
	set  func(string) error
}

func strVar(name string, dst *string) envVar {
	return envVar{name, func(v string) error { *dst = v; return nil }}
}

func intVar(name string, dst *int) envVar {
	return envVar{name, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*dst = n
		return nil
	}}
}

func int64Var(name string, dst *int64) envVar {
	return envVar{name, func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*dst = n
		return nil
	}}
}

func floatVar(name string, dst *float64) envVar {
	return envVar{name, func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*dst = f
		return nil
	}}
}

func boolVar(name string, dst *bool) envVar {
	return envVar{name, func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*dst = b
		return nil
	}}
}

func durVar(name string, dst *time.Duration) envVar {
	return envVar{name, func(v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*dst = d
		return nil
	}}
}

// textVar sets a typed value that parses itself (a Role, a warm Mode).
func textVar(name string, dst encoding.TextUnmarshaler) envVar {
	return envVar{name, func(v string) error { return dst.UnmarshalText([]byte(v)) }}
}
