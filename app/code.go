package app

// Result codes of CheckTx, DeliverTx and Query. They reach clients through
// CometBFT's ExecTxResult.Code, so never renumber one; only add new ones.
const (
	CodeOK                uint32 = 0
	CodeBadEncoding       uint32 = 1  // bytes are not a canonical tx (or query data is malformed)
	CodeBadSignature      uint32 = 2  // signature does not verify for the tx's public key
	CodeWrongChainID      uint32 = 3  // tx was signed for another chain
	CodeBadNonce          uint32 = 4  // nonce already used (replay) or ahead of the next one (future)
	CodeInsufficientFunds uint32 = 5  // balance cannot pay fee or amount, or bonded stake is short
	CodeUnknownMsgType    uint32 = 6  // message type not registered or no handler for it
	CodeFeeTooLow         uint32 = 7  // fee below the chain's min_fee
	CodeTxTooLarge        uint32 = 8  // tx over the chain's max_tx_bytes
	CodeInvalidMsg        uint32 = 9  // message fails its stateless checks (zero amount, ...)
	CodeNotInitialized    uint32 = 10 // no genesis yet, or no committed state to query
	CodeInternal          uint32 = 11 // storage failure; the node halts rather than diverge
	CodeUnknownQuery      uint32 = 12 // query path not served
	CodeBadQuery          uint32 = 13 // query height unavailable or data malformed
	CodeOverflow          uint32 = 14 // an amount would overflow uint64
)

// CodeName returns a short name for a result code, for logs and the CLI.
func CodeName(code uint32) string {
	switch code {
	case CodeOK:
		return "ok"
	case CodeBadEncoding:
		return "bad_encoding"
	case CodeBadSignature:
		return "bad_signature"
	case CodeWrongChainID:
		return "wrong_chain_id"
	case CodeBadNonce:
		return "bad_nonce"
	case CodeInsufficientFunds:
		return "insufficient_funds"
	case CodeUnknownMsgType:
		return "unknown_msg_type"
	case CodeFeeTooLow:
		return "fee_too_low"
	case CodeTxTooLarge:
		return "tx_too_large"
	case CodeInvalidMsg:
		return "invalid_msg"
	case CodeNotInitialized:
		return "not_initialized"
	case CodeInternal:
		return "internal"
	case CodeUnknownQuery:
		return "unknown_query"
	case CodeBadQuery:
		return "bad_query"
	case CodeOverflow:
		return "overflow"
	}
	return "unknown"
}

// codedError is a failed check with the result code it maps to.
type codedError struct {
	code uint32
	msg  string
}

func (e *codedError) Error() string { return e.msg }

// Code returns the result code.
func (e *codedError) Code() uint32 { return e.code }
