package cli

import "github.com/spf13/cobra"

// operateCommands are the commands that operate the backups once the backup
// service is deployed (backup, check, prune, drill, status, image).
func operateCommands(g *globalOptions) []*cobra.Command {
	return nil
}
