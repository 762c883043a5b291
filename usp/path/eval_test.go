package path

import (
	"errors"
	"testing"

	"brickyard/usp"
)

// expr parses one search expression component.
func expr(t *testing.T, s string) Expr {
	t.Helper()
	p, err := Parse("Device.T.[" + s + "].")
	if err != nil {
		t.Fatalf("expression %s: %v", s, err)
	}
	return p.At(2).exprs[0]
}

type evalCase struct {
	expr  string
	value string
	typ   Type
	want  bool
	code  usp.Code // 0: no error
}

func checkEval(t *testing.T, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		e := expr(t, tt.expr)
		got, err := e.Eval(tt.value, tt.typ)
		if tt.code != 0 {
			if !errors.Is(err, tt.code) {
				t.Errorf("[%s].Eval(%q, %v) = %v, %v; want error %v", tt.expr, tt.value, tt.typ, got, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("[%s].Eval(%q, %v) = %v, %v; want %v", tt.expr, tt.value, tt.typ, got, err, tt.want)
		}
	}
}

const syntax = usp.InvalidPathSyntax

// usp.md 6.3: strings compare with == and != only, and must be quoted.
func TestEval_String_6_3(t *testing.T) {
	checkEval(t, []evalCase{
		{`S=="Active"`, "Active", String, true, 0},
		{`S=="Active"`, "active", String, false, 0},
		{`S!="Active"`, "Active", String, false, 0},
		{`S!="Active"`, "Idle", String, true, 0},
		{`S==""`, "", String, true, 0},
		{`S=="a%22b"`, `a"b`, String, true, 0},
		{`S=="1"`, "1", String, true, 0},
		{`S==1`, "1", String, false, syntax},
		{`S==true`, "true", String, false, syntax},
		{`S<"b"`, "a", String, false, syntax},
		{`S>"b"`, "a", String, false, syntax},
		{`S<="b"`, "a", String, false, syntax},
		{`S>="b"`, "a", String, false, syntax},
		{`S~="a"`, "a", String, false, syntax},
	})
}

// hexBinary and base64 behave as strings; hexBinary ignores case.
func TestEval_HexBinaryBase64_6_3(t *testing.T) {
	checkEval(t, []evalCase{
		{`H=="0AFF"`, "0aff", HexBinary, true, 0},
		{`H!="0AFF"`, "0aff", HexBinary, false, 0},
		{`H!="0AFE"`, "0aff", HexBinary, true, 0},
		{`H==1234`, "1234", HexBinary, false, syntax},
		{`H<"00"`, "01", HexBinary, false, syntax},
		{`B=="aGk="`, "aGk=", Base64, true, 0},
		{`B=="aGk="`, "AGK=", Base64, false, 0},
		{`B!="aGk="`, "aGs=", Base64, true, 0},
		{`B>"a"`, "b", Base64, false, syntax},
		{`B==12`, "12", Base64, false, syntax},
	})
}

// usp.md 6.3: booleans unquoted, 1 ≡ true, == and != only; a quoted
// boolean is invalid (reported here, not by Parse).
func TestEval_Boolean_6_3(t *testing.T) {
	checkEval(t, []evalCase{
		{"E==true", "true", Boolean, true, 0},
		{"E==true", "1", Boolean, true, 0},
		{"E==1", "true", Boolean, true, 0},
		{"E==0", "false", Boolean, true, 0},
		{"E==false", "0", Boolean, true, 0},
		{"E==false", "true", Boolean, false, 0},
		{"E!=true", "false", Boolean, true, 0},
		{"E!=1", "1", Boolean, false, 0},
		{`E=="true"`, "true", Boolean, false, syntax},
		{"E==2", "true", Boolean, false, syntax},
		{"E==01", "true", Boolean, false, syntax},
		{"E<true", "false", Boolean, false, syntax},
		{"E>=0", "false", Boolean, false, syntax},
		{"E==true", "yes", Boolean, false, usp.InternalError},
	})
}

// usp.md 6.3: numbers compare numerically; 123 ≡ +123 ≡ 0123.
func TestEval_Integer_6_3(t *testing.T) {
	var tests []evalCase
	for _, typ := range []Type{Int, UnsignedInt, Long, UnsignedLong} {
		tests = append(tests, []evalCase{
			{"N==123", "123", typ, true, 0},
			{"N==+123", "123", typ, true, 0},
			{"N==0123", "123", typ, true, 0},
			{"N==123", "0123", typ, true, 0},
			{"N!=123", "124", typ, true, 0},
			{"N!=123", "123", typ, false, 0},
			{"N<123", "99", typ, true, 0}, // numeric, not lexical
			{"N<123", "123", typ, false, 0},
			{"N>99", "123", typ, true, 0},
			{"N>99", "99", typ, false, 0},
			{"N<=99", "99", typ, true, 0},
			{"N<=99", "100", typ, false, 0},
			{"N>=100", "100", typ, true, 0},
			{"N>=100", "99", typ, false, 0},
			{"N>-5", "0", typ, true, 0},
			{"N==0", "0", typ, true, 0},
			{"N==1.5", "1", typ, false, syntax},
			{`N=="123"`, "123", typ, false, syntax},
			{"N==true", "1", typ, false, syntax},
			{"N==2021-06-06T08:00:00Z", "1", typ, false, syntax},
			{"N~=1", "1", typ, false, syntax},
			{"N==1", "one", typ, false, usp.InternalError},
			{"N==1", "1.0", typ, false, usp.InternalError},
		}...)
	}
	tests = append(tests, []evalCase{
		{"N<-5", "-6", Int, true, 0},
		{"N<-5", "-5", Int, false, 0},
		{"N>-5", "-4", Long, true, 0},
		{"N==-0", "0", Int, true, 0},
		{"N<18446744073709551615", "18446744073709551614", UnsignedLong, true, 0},
		{"N>9223372036854775807", "18446744073709551615", UnsignedLong, true, 0},
		{"N<-9223372036854775807", "-9223372036854775808", Long, true, 0},
	}...)
	checkEval(t, tests)
}

func TestEval_Decimal_6_3(t *testing.T) {
	checkEval(t, []evalCase{
		{"D==1.5", "1.50", Decimal, true, 0},
		{"D==1", "1.0", Decimal, true, 0},
		{"D==+01.500", "1.5", Decimal, true, 0},
		{"D<1.5", "1.45", Decimal, true, 0},
		{"D<1.45", "1.5", Decimal, false, 0},
		{"D>0.4", "0.45", Decimal, true, 0},
		{"D>-0.5", "-0.45", Decimal, true, 0},
		{"D<-0.45", "-0.5", Decimal, true, 0},
		{"D<=2", "2.0", Decimal, true, 0},
		{"D>=2", "1.999", Decimal, false, 0},
		{"D!=0", "-0.0", Decimal, false, 0},
		{`D=="1.5"`, "1.5", Decimal, false, syntax},
		{"D==true", "1", Decimal, false, syntax},
		{"D==1", "1,5", Decimal, false, usp.InternalError},
	})
}

// usp.md 6.3: dateTimes compare as times; the Unknown Time only with ==
// and !=.
func TestEval_DateTime_6_3(t *testing.T) {
	const unknown = "0001-01-01T00:00:00Z"
	checkEval(t, []evalCase{
		{"T<2021-06-06T08:00:00Z", "2021-06-06T07:59:59Z", DateTime, true, 0},
		{"T<2021-06-06T08:00:00Z", "2021-06-06T08:00:00Z", DateTime, false, 0},
		{"T<=2021-06-06T08:00:00Z", "2021-06-06T08:00:00Z", DateTime, true, 0},
		{"T>2021-06-06T08:00:00Z", "2021-06-06T08:00:00.001Z", DateTime, true, 0},
		{"T>=2021-06-06T08:00:00Z", "2021-06-06T07:00:00Z", DateTime, false, 0},
		{"T==2021-06-06T08:00:00Z", "2021-06-06T10:00:00+02:00", DateTime, true, 0}, // same instant
		{"T!=2021-06-06T08:00:00Z", "2021-06-06T08:00:00Z", DateTime, false, 0},
		{"T==" + unknown, unknown, DateTime, true, 0},
		{"T!=" + unknown, "2021-06-06T08:00:00Z", DateTime, true, 0},
		{"T<" + unknown, unknown, DateTime, false, syntax},
		{"T>=" + unknown, "2021-06-06T08:00:00Z", DateTime, false, syntax},
		{"T>2000-01-01T00:00:00Z", unknown, DateTime, false, 0}, // an unknown value is never ordered
		{"T<2000-01-01T00:00:00Z", unknown, DateTime, false, 0},
		{"T!=2000-01-01T00:00:00Z", unknown, DateTime, true, 0},
		{`T=="2021-06-06T08:00:00Z"`, "2021-06-06T08:00:00Z", DateTime, false, syntax},
		{"T==5", "2021-06-06T08:00:00Z", DateTime, false, syntax},
		{"T==2021-06-06T08:00:00Z", "yesterday", DateTime, false, usp.InternalError},
	})
}

// usp.md 6.3: ~= is true when a list has an item exactly equal to the
// literal.
func TestEval_ListContains_6_3(t *testing.T) {
	checkEval(t, []evalCase{
		{`L~="b"`, "a,b,c", String | List, true, 0},
		{`L~="b"`, "a, b ,c", String | List, true, 0},
		{`L~="b"`, "a,bb,c", String | List, false, 0},
		{`L~="a,b"`, "a,b", String | List, false, 0},
		{`L~=""`, "a,,c", String | List, true, 0},
		{`L~="a"`, "", String | List, false, 0},
		{`L~="a"`, "a", String | List, true, 0},
		{`L~=1`, "1,2", String | List, false, syntax},
		{"L~=80", "443,080", UnsignedInt | List, true, 0},
		{"L~=+80", "443,80", UnsignedInt | List, true, 0},
		{"L~=81", "443,80", UnsignedInt | List, false, 0},
		{`L~="80"`, "80", UnsignedInt | List, false, syntax},
		{"L~=1", "x", Int | List, false, usp.InternalError},
		{"L~=true", "false,1", Boolean | List, true, 0},
		{"L~=2021-06-06T08:00:00Z", "2021-06-06T08:00:00Z", DateTime | List, true, 0},
		{`L~="FF"`, "00,ff", HexBinary | List, true, 0},
		// == and != compare the whole list as a string.
		{`L=="a,b"`, "a,b", String | List, true, 0},
		{`L!="a,b"`, "a,b", String | List, false, 0},
		{`L=="80"`, "80", UnsignedInt | List, true, 0},
		{"L==80", "80", UnsignedInt | List, false, syntax},
		{`L<"b"`, "a", String | List, false, syntax},
		{"L>=1", "1", Int | List, false, syntax},
	})
}

func TestEval_InvalidTypeOrOp(t *testing.T) {
	e := Expr{Param: "X", Op: Eq, Value: "1"}
	if _, err := e.Eval("1", 0); !errors.Is(err, usp.InternalError) {
		t.Errorf("Eval with the zero Type: %v, want InternalError", err)
	}
	if _, err := e.Eval("1", Type(42)); !errors.Is(err, usp.InternalError) {
		t.Errorf("Eval with Type(42): %v, want InternalError", err)
	}
	e.Op = 0
	if _, err := e.Eval("1", Int); !errors.Is(err, usp.InvalidPathSyntax) {
		t.Errorf("Eval with the zero Op: %v, want InvalidPathSyntax", err)
	}
}

func TestEval_ErrorNamesParamAndOperator(t *testing.T) {
	_, err := expr(t, `Enable=="true"`).Eval("true", Boolean)
	const want = `search expression Enable=="true" on boolean parameter Enable: a quoted literal cannot compare with a boolean; write it unquoted: 7008 Invalid path syntax`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestCheck_WithoutValue(t *testing.T) {
	if err := expr(t, "Status<3").Check(String); !errors.Is(err, usp.InvalidPathSyntax) {
		t.Errorf("Check = %v, want InvalidPathSyntax", err)
	}
	if err := expr(t, "Count<3").Check(UnsignedInt); err != nil {
		t.Errorf("Check = %v, want nil", err)
	}
}

func TestType_String(t *testing.T) {
	for typ, want := range map[Type]string{
		String: "string", UnsignedLong: "unsignedLong", DateTime: "dateTime",
		Int | List: "list of int", 0: "Type(0)", List: "Type(128)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", typ, got, want)
		}
	}
}
