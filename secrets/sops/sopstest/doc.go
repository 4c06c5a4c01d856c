// Package sopstest encrypts documents with the SOPS library, as the sops
// command does, for tests and demo fixtures: age recipients and AWS KMS
// keys (through SOPS's own KMS key source, so the process's AWS
// environment, e.g. an emulator's, decides where it calls).
package sopstest
