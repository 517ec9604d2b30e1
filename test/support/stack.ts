/** What the suites on the real production stack (test/stack) share: free ports for a private stack. */
import { portInUse } from '../../local/ports';
import { SERVER_PORT_SPAN, type StackPorts } from '../../local/stack/layout';

/**
 * A block of SERVER_PORT_SPAN free ports for the server, and two more: nothing listens on any of them now. Below
 * Linux's ephemeral range (32768+), so an outgoing connection cannot take one before the server binds it.
 */
export async function freeStackPorts(): Promise<StackPorts> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const wanted = [...Array.from({ length: SERVER_PORT_SPAN }, (_, i) => port + i), port + 20, port + 21];
    if ((await Promise.all(wanted.map(portInUse))).every((used) => !used)) return { port, uiPort: port + 20, pgPort: port + 21 };
  }
  throw new Error('no free block of ports');
}
