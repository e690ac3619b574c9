package emulator

// colType is a declared column's Log Analytics type, for type checks.
type colType uint8

const (
	colAny colType = iota // no type declared, or dynamic
	colString
	colInt
	colLong
	colReal
	colBool
	colDateTime
)

// String names the type as Log Analytics does.
func (t colType) String() string {
	switch t {
	case colString:
		return "string"
	case colInt:
		return "int"
	case colLong:
		return "long"
	case colReal:
		return "real"
	case colBool:
		return "boolean"
	case colDateTime:
		return "datetime"
	}
	return "dynamic"
}

// columnTypes maps the Log Analytics type names a Stream may declare.
var columnTypes = map[string]colType{
	"": colAny, "dynamic": colAny, "guid": colString,
	"string": colString, "int": colInt, "long": colLong, "real": colReal,
	"boolean": colBool, "datetime": colDateTime,
}

// fits reports whether the raw JSON value suits the type: null always does;
// string needs a JSON string; int and long an integer within range; real
// any number; boolean true or false; datetime an RFC 3339 string.
func (t colType) fits(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	if string(v) == "null" {
		return true
	}
	switch t {
	case colString:
		return v[0] == '"'
	case colInt:
		return isInteger(v, 10, "2147483647", "2147483648")
	case colLong:
		return isInteger(v, 19, "9223372036854775807", "9223372036854775808")
	case colReal:
		return v[0] == '-' || v[0] >= '0' && v[0] <= '9'
	case colBool:
		return string(v) == "true" || string(v) == "false"
	case colDateTime:
		return len(v) >= 2 && v[0] == '"' && isRFC3339(v[1:len(v)-1])
	}
	return true
}

// isInteger reports whether v is a JSON integer within the signed range
// whose largest positive and negative magnitudes are maxPos and maxNeg
// (both maxDigits long).
func isInteger(v []byte, maxDigits int, maxPos, maxNeg string) bool {
	limit := maxPos
	if v[0] == '-' {
		v = v[1:]
		limit = maxNeg
	}
	if len(v) == 0 || len(v) > maxDigits {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(v) < maxDigits || string(v) <= limit
}

// isRFC3339 checks YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) without
// allocating (field ranges are checked loosely: it is a shape check).
func isRFC3339(s []byte) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 {
		return false
	}
	for i := 0; i < len(shape); i++ {
		c := s[i]
		if shape[i] == 'd' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != shape[i] && !(shape[i] == 'T' && (c == 't' || c == ' ')) {
			return false
		}
	}
	rest := s[len(shape):]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, i := range []int{1, 2, 4, 5} {
			if rest[i] < '0' || rest[i] > '9' {
				return false
			}
		}
		return true
	}
	return false
}
