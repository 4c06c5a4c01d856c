package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
)

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2,5}(?:-[a-z]+)+-[0-9]{1,2}$`)
)

// ValidAccount reports whether a is an AWS account id: twelve digits.
func ValidAccount(a string) bool { return accountPattern.MatchString(a) }

// ValidRegion reports whether r has the form of an AWS region name, e.g.
// "us-east-1" or "us-gov-west-1".
func ValidRegion(r string) bool { return regionPattern.MatchString(r) }

// Partition returns the ARN partition of a region: "aws-cn" for China
// regions, "aws-us-gov" for GovCloud, "aws" otherwise.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// ARN returns "arn:<partition>:<service>:<region>:<account>:<resource>".
func ARN(service, region, account, resource string) string {
	return "arn:" + Partition(region) + ":" + service + ":" + region + ":" + account + ":" + resource
}

// ParsedARN is an ARN split into its parts.
type ParsedARN struct {
	Partition, Service, Region, Account, Resource string
}

// ParseARN splits s into its parts; ok is false if s is not an ARN.
func ParseARN(s string) (a ParsedARN, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return ParsedARN{}, false
	}
	return ParsedARN{parts[1], parts[2], parts[3], parts[4], parts[5]}, true
}

// NewUUID returns a random (version 4) UUID in its canonical form, as AWS
// request ids, KMS key ids and Secrets Manager version ids are.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// RandomHex returns n random bytes, hex encoded.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
