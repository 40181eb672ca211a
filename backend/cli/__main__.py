from backend.cli import main

main(prog_name="pledgewatch")
