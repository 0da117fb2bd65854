package operate

// ShortID is the first 8 characters of a snapshot or run ID, as restic
// shows them.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
