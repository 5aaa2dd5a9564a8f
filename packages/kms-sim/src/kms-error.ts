/**
 * An error as KMS reports it: the exception name the SDK turns into an error class, and a
 * message. The simulator answers every one with HTTP 400, as KMS does for client faults and
 * throttling alike.
 */
export class KmsError extends Error {
  readonly type: KmsErrorType;

  constructor(type: KmsErrorType, message: string) {
    super(message);
    this.name = 'KmsError';
    this.type = type;
  }
}

export type KmsErrorType =
  | 'DisabledException'
  | 'IncorrectKeyException'
  | 'InvalidCiphertextException'
  | 'NotFoundException'
  | 'SerializationException'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'ValidationException';
