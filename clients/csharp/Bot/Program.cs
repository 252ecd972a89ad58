using System;
using System.Net;

/// <summary>
/// The C# bot: N sessions on the ServerCore runtime and the generated packet code, played
/// against a game-server; exits 0 when every check passed, 1 with what went wrong, 2 on a
/// bad command line.
/// </summary>
static class Program
{
    const string Usage = "usage: mono Bot.exe --port PORT [--host 127.0.0.1] [--bots 50] [--timeout-secs 30]";

    static int Main(string[] args)
    {
        string host = "127.0.0.1";
        int port = 0;
        int bots = 50;
        int timeout = 30;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : null;
            bool parsed;
            switch (args[i])
            {
                case "--host": parsed = value != null; host = value; break;
                case "--port": parsed = int.TryParse(value, out port) && port > 0 && port < 65536; break;
                case "--bots": parsed = int.TryParse(value, out bots) && bots > 0 && bots <= 10000; break;
                case "--timeout-secs": parsed = int.TryParse(value, out timeout) && timeout > 0; break;
                case "-h":
                case "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default: parsed = false; value = null; break;
            }
            if (!parsed)
            {
                Console.Error.WriteLine("error: bad argument " + args[i] + (value == null ? "" : " " + value));
                Console.Error.WriteLine(Usage);
                return 2;
            }
            i++;
        }
        if (port == 0)
        {
            Console.Error.WriteLine("error: --port is required");
            Console.Error.WriteLine(Usage);
            return 2;
        }
        IPAddress address;
        if (!IPAddress.TryParse(host, out address))
        {
            Console.Error.WriteLine("error: --host takes an IP address, not " + host);
            return 2;
        }
        return new Run(new IPEndPoint(address, port), bots, TimeSpan.FromSeconds(timeout)).Execute();
    }
}
