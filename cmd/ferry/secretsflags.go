package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/deploy"
)

// secretsFlags say how sync, diff and rollback decrypt SOPS files and
// fill Secrets Manager references.
type secretsFlags struct {
	ageKeyFile, awsRegion, kmsEndpoint, smEndpoint string
}

func (f *secretsFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.ageKeyFile, "age-key-file", os.Getenv("SOPS_AGE_KEY_FILE"), "file of age identities that decrypt the apps' SOPS files (default: $SOPS_AGE_KEY_FILE)")
	fs.StringVar(&f.awsRegion, "aws-region", "", "AWS region of Secrets Manager names (default: the AWS SDK's: $AWS_REGION, the profile)")
	fs.StringVar(&f.kmsEndpoint, "kms-endpoint", "", "AWS KMS endpoint URL, for emulators and VPC endpoints (default: the SDK's: $AWS_ENDPOINT_URL_KMS, else the region's)")
	fs.StringVar(&f.smEndpoint, "secretsmanager-endpoint", "", "AWS Secrets Manager endpoint URL (default: the SDK's: $AWS_ENDPOINT_URL_SECRETS_MANAGER, else the region's)")
}

func (f *secretsFlags) options() deploy.SecretsOptions {
	return deploy.SecretsOptions{AgeKeyFile: f.ageKeyFile, AWSRegion: f.awsRegion, KMSEndpoint: f.kmsEndpoint, SecretsManagerEndpoint: f.smEndpoint}
}
