// The small part of mikronode (an independent RouterOS API client, used only by tests) that the tests call.
declare module 'mikronode' {
  interface Field {
    field: string;
    value: string;
  }
  interface Result {
    tag: string;
    /** `!re` rows as lists of fields, or `=ret=` values. */
    data: (Field[] | string)[];
  }
  interface Channel {
    write(command: string, parameters?: Record<string, string>): Promise<Result>;
    close(force?: boolean): void;
  }
  interface Connection {
    openChannel(id?: string): Channel;
    close(): void;
  }
  type Login = (user: string, password: string) => Promise<Connection>;
  class MikroNode {
    constructor(host: string, port?: number, timeout?: number);
    connect(): Promise<[Login, ...unknown[]]>;
    TLS(options: object): MikroNode;
    static resultsToObj(data: Field[] | Field[][]): Record<string, string> | Record<string, string>[];
  }
  export = MikroNode;
}
