package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/client"
	"github.com/weirio/weir/internal/daemon"
)

func storeCmd() *cobra.Command {
	var addr, level string
	var timeout, expire time.Duration
	var sec daemon.Security
	cmd := &cobra.Command{
		Use:   "store get|exists|put|erase|keys STORE [KEY [VALUE]]",
		Short: "Read and write a data store through a running node",
		Long: `Send one operation to the master of data store STORE through the node at --node
(the master may be that node or one of its peers) and print the answer:

  weir-node store put default greeting hello          # a string key and value
  weir-node store put default n '{"@data-type":"count","data":42}' --expire 1h
  weir-node store get default greeting                # prints the value's JSON form
  weir-node store exists default n                    # true or false
  weir-node store erase default greeting
  weir-node store keys default                        # the set of keys

A KEY or VALUE beginning with '{' is the JSON form of a weir value (Broker's JSON v1
data encoding); anything else is a string. A standalone node is the master of a
Pebble store named "default" unless told otherwise (--store, --clone).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("want an operation and a store name, got %d arguments", len(args))
			}
			want := map[string]int{"get": 3, "exists": 3, "erase": 3, "put": 4, "keys": 2}[args[0]]
			switch {
			case want == 0:
				return fmt.Errorf("unknown operation %q (want get, exists, put, erase or keys)", args[0])
			case len(args) != want:
				return fmt.Errorf("%s takes %d arguments after the operation, got %d", args[0], want-1, len(args)-1)
			case expire != 0 && args[0] != "put":
				return fmt.Errorf("--expire applies to put only")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			log, opt, err := clientSetup(level, sec)
			if err != nil {
				return err
			}
			req := client.StoreRequest{Op: args[0], Store: args[1], Expiry: expire}
			if len(args) > 2 {
				req.Key = args[2]
			}
			if len(args) > 3 {
				req.Value = args[3]
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			res, err := client.Store(ctx, addr, req, log, opt)
			if err != nil {
				return err
			}
			if res.Type() == frame.TypeNone && (req.Op == "put" || req.Op == "erase") {
				return nil
			}
			_, err = fmt.Fprintf(os.Stdout, "%s\n", frame.AppendJSON(nil, res))
			return err
		},
	}
	registerSecurity(cmd, &sec)
	cmd.Flags().StringVar(&addr, "node", defaultNode, "address of the node")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the node and the master's answer")
	cmd.Flags().DurationVar(&expire, "expire", 0, "put: the key expires this long after the write (0: never)")
	cmd.Flags().StringVar(&level, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
