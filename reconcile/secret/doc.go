// Package secret holds a secret value in a type that never prints it: its
// String, Format, MarshalJSON and MarshalLog all render "***". The only way out
// is Reader, which feeds the stdin of `devopsellence secret set`.
package secret
