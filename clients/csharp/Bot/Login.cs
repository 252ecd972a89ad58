/// <summary>
/// The bot's login mode (--login NAME PASSWORD): which account each bot plays, and the
/// words for S_Login's result codes (docs/PROTOCOL.md, "Accounts and login").
/// </summary>
class Login
{
    public readonly string Name;
    public readonly string Password;

    public Login(string name, string password)
    {
        Name = name;
        Password = password;
    }

    /// <summary>The account bot <paramref name="index"/> of <paramref name="count"/> plays: NAME alone, NAME_i for several.</summary>
    public string AccountOf(int index, int count)
    {
        return count == 1 ? Name : Name + "_" + index;
    }

    /// <summary>The first login makes the account (create = true); a taken name then logs in to it.</summary>
    public C_Login Packet(string account, bool create)
    {
        return new C_Login { name = account, password = Password, create = create };
    }

    public const int Ok = 0;
    public const int NameTaken = 4;

    /// <summary>What an S_Login result code means.</summary>
    public static string Meaning(int result)
    {
        switch (result)
        {
            case 0: return "logged in";
            case 1: return "the name breaks the rules: 2 to 16 letters, digits or _, a letter first";
            case 2: return "the password breaks the rules: 8 to 128 characters";
            case 3: return "no such account, or the wrong password";
            case 4: return "the name is taken";
            case 5: return "too many failed logins; try again later";
            case 6: return "the server cannot check logins now";
            case 7: return "not now: this connection already plays or is being checked";
            case 8: return "logins are off on this server (--login off)";
            case 9: return "this server takes no guests (--login required)";
            case 10: return "the token is used, replaced by a later login, or expired";
            default: return "an unknown result";
        }
    }
}
