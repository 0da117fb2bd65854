// Package yamlpatch edits a devopsellence.yml document in place, leaving every
// byte outside the edited entries untouched.
//
// It parses once with yaml.v3 to find entries by node position, renders only
// the new entries in the file's own style (indentation of the parent's
// children, indented or indentless sequences, line endings), and splices them
// into the original bytes, so comments, quoting, anchors and layout elsewhere
// survive an edit.
//
// The rules where a choice had to be made:
//
//   - An entry runs from the comment lines directly above its key that belong
//     to it (those containing MarkerPrefix, or equal to the edit's comment)
//     through the last line of its value. Blank lines and comments after the
//     value stay where they are: they belong to what follows.
//   - New values are written in block style, lists included, so that a
//     rendered entry always has the same shape. Inside a flow mapping they are
//     written in flow style within the braces, and the parent keeps its bytes;
//     a comment then goes on its own line inside the braces.
//   - A delete that empties a mapping deletes the mapping's key too, up to
//     (not including) the document root, so no key is left with a null value.
//   - A parent key with a null value (nothing, ~ or null) gets the new mapping
//     as a block below the key; a written null is removed from the key's line.
//   - A file without a final line break keeps ending without one: text added
//     at the end goes on its own line, without a final break. The exception is
//     a block scalar that ends the file, whose value includes that break.
//   - Lookup reads every scalar as its string: 3000 and "3000" are both
//     Scalar("3000"), and null (empty, ~ or null) is Scalar(""). Apply is
//     stricter when it decides an edit changes nothing: every scalar must be
//     a string already.
//   - Edits that cannot be made exactly are refused with an error: paths
//     through aliases or merge keys, anchors an alias elsewhere still uses,
//     explicit ("? ") keys, layouts yaml.v3 accepts but this package cannot
//     place text in.
package yamlpatch
