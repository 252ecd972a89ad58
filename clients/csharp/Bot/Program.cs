using System;
using System.Net;

/// <summary>
/// The C# bot: N sessions on the ServerCore runtime and the generated packet code, played
/// against a game-server; exits 0 when every check passed, 1 with what went wrong, 2 on a
/// bad command line. With --login the bots play accounts' characters (docs/PROTOCOL.md,
/// "Accounts and login") and come back to check where the server saved them.
/// </summary>
static class Program
{
    const string Usage = "usage: mono Bot.exe --port PORT [--host 127.0.0.1] [--bots 50] [--timeout-secs 30] [--login NAME PASSWORD]\n"
        + "  --login NAME PASSWORD  log in before playing (the account is made if it is new), then log in\n"
        + "                         again with the token the first login was handed (C_LoginToken) and\n"
        + "                         check the character stands where it left; with several\n"
        + "                         bots, bot i plays the account NAME_i";

    static int Main(string[] args)
    {
        string host = "127.0.0.1";
        int port = 0;
        int bots = 50;
        int timeout = 30;
        string loginName = null;
        string loginPassword = null;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : null;
            bool parsed;
            switch (args[i])
            {
                case "--login":
                    // Two values: the account's name and its password.
                    loginName = value;
                    loginPassword = i + 2 < args.Length ? args[i + 2] : null;
                    parsed = loginName != null && loginPassword != null;
                    if (parsed)
                        i++;
                    break;
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
        Login login = loginName == null ? null : new Login(loginName, loginPassword);
        return new Run(new IPEndPoint(address, port), bots, TimeSpan.FromSeconds(timeout), login).Execute();
    }
}
