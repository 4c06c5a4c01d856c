package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrygitops/ferry/internal/buildinfo"
	"github.com/ferrygitops/ferry/service"
)

type runFlags struct {
	config string
	ov     service.Overrides
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run Ferry as a service: bump on a schedule and on webhooks, serve health, metrics and a status page",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags()); err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			return runService(cmd, g, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "the config file (YAML, kind: RunConfig)")
	fs.StringVar(&f.ov.Listen, "listen", "", "HTTP listen address (default :8080)")
	fs.DurationVar(&f.ov.Interval, "interval", 0, "time between scheduled cycles (default 5m)")
	fs.StringVar(&f.ov.Cron, "cron", "", "cron schedule instead of an interval, e.g. '*/5 * * * *'")
	fs.DurationVar(&f.ov.Jitter, "jitter", 0, "random delay added to each scheduled cycle (default 30s)")
	fs.BoolVar(&f.ov.LeaderElect, "leader-elect", false, "elect a leader through a Kubernetes Lease (for more than one replica)")
	fs.StringVar(&f.ov.LeaseNamespace, "leader-elect-namespace", "", "namespace of the Lease (default: the pod's namespace)")
	fs.StringVar(&f.ov.LeaseName, "leader-elect-name", "", "name of the Lease (default: leaderElection.name, else ferry)")
	fs.StringVar(&f.ov.Kubeconfig, "kubeconfig", "", "kubeconfig for leader election and sync (default: in-cluster)")
	fs.StringVar(&f.ov.Context, "context", "", "kubeconfig context")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// flagsFromEnv sets every flag not given on the command line from
// FERRY_<NAME> when that variable is set.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		env := "FERRY_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(fl.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

func runService(cmd *cobra.Command, g *globals, f *runFlags) error {
	cfg, err := service.LoadConfig(f.config)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	f.ov.Apply(cfg)
	svc, err := service.New(cfg, service.Options{Version: buildinfo.Read(version, commit).Version, Log: g.log, Now: g.now})
	if err != nil {
		return serviceError(f.config, err)
	}
	if g.logFormat == "json" {
		g.log.Info("serving", "addr", svc.Listen(), "repositories", svc.Repos())
	} else {
		fmt.Fprintf(g.stderr, "ferry: serving on %s; %d repositories; first cycle now\n", svc.Listen(), svc.Repos())
	}
	return serviceError(f.config, svc.Run(cmd.Context()))
}

// serviceError gives configuration errors exit code 2, naming the file.
func serviceError(file string, err error) error {
	var ce *service.ConfigError
	if errors.As(err, &ce) {
		return &exitError{code: exitConfig, err: fmt.Errorf("%s: %w", file, ce.Err)}
	}
	return err
}
