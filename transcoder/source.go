package transcoder

import "github.com/interp-dev/interp/sae"

// MaskedSource and TaskSource are sae's: a token source with a task's loss mask, so that the CE
// loss and KL are scored where the task's predictions count.
type (
	MaskedSource = sae.MaskedSource
	TaskSource   = sae.TaskSource
)
