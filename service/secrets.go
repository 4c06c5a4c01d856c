package service

import (
	"os"

	"github.com/ferrygitops/ferry/deploy"
)

// SecretsConfig is sync.secrets of the run config:
//
//	sync:
//	  secrets:
//	    ageKeyFile: /etc/ferry/sops/keys.agekey  # default $SOPS_AGE_KEY_FILE
//	    aws:
//	      region: eu-west-1                      # default: the SDK's ($AWS_REGION)
//	      kmsEndpoint: http://kms.local:4566     # default: the SDK's
//	      secretsManagerEndpoint: http://sm.local:4566
//
// AWS credentials are always the SDK's default chain: IRSA or EKS Pod
// Identity in a pod, else the environment, the shared files or instance
// metadata. Ferry calls AWS only for apps holding a SOPS file encrypted
// for a KMS key or a Secret naming a Secrets Manager source.
type SecretsConfig struct {
	AgeKeyFile string `yaml:"ageKeyFile"`
	AWS        struct {
		Region                 string `yaml:"region"`
		KMSEndpoint            string `yaml:"kmsEndpoint"`
		SecretsManagerEndpoint string `yaml:"secretsManagerEndpoint"`
	} `yaml:"aws"`
}

func (c SecretsConfig) deployOptions() deploy.SecretsOptions {
	f := c.AgeKeyFile
	if f == "" {
		f = os.Getenv("SOPS_AGE_KEY_FILE")
	}
	return deploy.SecretsOptions{AgeKeyFile: f, AWSRegion: c.AWS.Region,
		KMSEndpoint: c.AWS.KMSEndpoint, SecretsManagerEndpoint: c.AWS.SecretsManagerEndpoint}
}
