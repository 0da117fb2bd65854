// Package store keeps devopsellence-backup's own local state beside
// devopsellence's (a per-app lock and the record of successful deploys) and
// writes files atomically.
package store
