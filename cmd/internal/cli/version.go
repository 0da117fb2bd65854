package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
)

// releasesURL is where tagged releases publish their binaries and SHA256SUMS.
const releasesURL = "https://github.com/devopsellence/devopsellence-backup/releases"

// VersionDoc is what `version` and `--version` print, in devopsellence's
// shape (its `version` command), so one parser reads both tools.
type VersionDoc struct {
	SchemaVersion int    `json:"schema_version"`
	Version       string `json:"version"`
	VersionNumber string `json:"version_number"`
	Commit        string `json:"commit"`
	BuiltAt       string `json:"built_at"`
	// Set for release builds only.
	ReleaseURL   string `json:"release_url,omitempty"`
	ChecksumsURL string `json:"checksums_url,omitempty"`
}

// NewVersionDoc describes build i.
func NewVersionDoc(i buildinfo.Info) VersionDoc {
	d := VersionDoc{SchemaVersion: render.SchemaVersion, Version: i.String(), VersionNumber: i.Version, Commit: i.Commit, BuiltAt: i.BuiltAt}
	if v, ok := i.Release(); ok {
		d.ReleaseURL = releasesURL + "/tag/" + v
		d.ChecksumsURL = releasesURL + "/download/" + v + "/SHA256SUMS"
	}
	return d
}

type versionOptions struct {
	IO *iostreams.Streams
	// Output is json: the only format of version, accepted so that
	// scripts that pass --output json to every command need no exception.
	Output string
}

func newVersionCmd(f *Factory, runF func(*versionOptions) error) *cobra.Command {
	o := &versionOptions{Output: render.JSON}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build time as JSON",
		Long: `version prints one JSON document describing this build, in the shape of
devopsellence's own version command: schema_version, version, version_number,
commit and built_at; a release build adds release_url and checksums_url.
devopsellence-backup --version prints the same. --output json is accepted (it
is the only format).

EXIT STATUS
  0  printed
  2  --output other than json`,
		Example: `  devopsellence-backup version
  devopsellence-backup version --output json
  devopsellence-backup --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, render.JSON, runF, runVersion)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", render.JSON, "result format on stdout: json (the only one)")
	return cmd
}

func runVersion(_ context.Context, o *versionOptions) error {
	if err := checkOutput(o.Output, []string{render.JSON}); err != nil {
		return err
	}
	return render.WriteJSON(o.IO.Out, NewVersionDoc(buildinfo.Get()))
}
