package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirio/weir/internal/client"
	"github.com/weirio/weir/internal/daemon"
	"github.com/weirio/weir/internal/devcert"
	"github.com/weirio/weir/netio"
)

// registerSecurity adds the TLS and shared-secret flags to cmd.
func registerSecurity(cmd *cobra.Command, s *daemon.Security) {
	f := cmd.Flags()
	f.StringVar(&s.TLSCert, "tls-cert", "", "PEM certificate of this node: use mutual TLS (with --tls-key and --tls-ca)")
	f.StringVar(&s.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&s.TLSCA, "tls-ca", "", "PEM certificates of the CAs that sign peer certificates")
	f.StringArrayVar(&s.PeerNames, "tls-peer-name", nil, "accept only peer certificates with this name (repeatable; default: any the CA signed)")
	f.StringVar(&s.SecretFile, "secret-file", "", "file holding the shared secret every peer must prove (at least 16 bytes)")
}

// clientSecurity turns the security flags of a client command into a
// client option.
func clientSecurity(s daemon.Security) (client.Option, error) {
	var o netio.Options
	if err := s.Apply(&o); err != nil {
		return nil, err
	}
	return client.WithNet(o), nil
}

// clientSetup returns what every client command needs: its logger at
// level and its transport security.
func clientSetup(level string, sec daemon.Security) (*slog.Logger, client.Option, error) {
	log, err := logger(level)
	if err != nil {
		return nil, nil, err
	}
	opt, err := clientSecurity(sec)
	if err != nil {
		return nil, nil, err
	}
	return log, opt, nil
}

func genCertsCmd() *cobra.Command {
	var dir string
	var names []string
	cmd := &cobra.Command{
		Use:   "gen-certs --dir DIR --names NODE,NODE,...",
		Short: "Write a development CA and a TLS certificate and key per node",
		Long: `Write a development certificate authority (DIR/ca.pem, DIR/ca-key.pem) and, for each
name, a certificate and key (DIR/NAME.pem, DIR/NAME-key.pem) signed by it: ECDSA P-256, the
name as the certificate's DNS name, usable as server and client. If DIR already holds a
CA, it signs the new certificates (so nodes can be added later); existing node files are
never overwritten. For development and tests: production deployments use their own PKI.

  weir-node gen-certs --dir certs --names manager,logger-1,worker-1,ops
  weir-node --tls-cert certs/manager.pem --tls-key certs/manager-key.pem --tls-ca certs/ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			written, err := devcert.WriteDir(dir, names, time.Now())
			for _, f := range written {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to write to (created if needed)")
	cmd.Flags().StringSliceVar(&names, "names", nil, "node names, comma-separated (the names nodes pin with --tls-peer-name)")
	_ = cmd.MarkFlagRequired("dir")
	_ = cmd.MarkFlagRequired("names")
	return cmd
}
